using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>pause/resume through the freezer, and update round trips (flags and stdin JSON) checked in the cgroup files.</summary>
public sealed class PauseUpdateTests(ITestOutputHelper output) : ContainerTest(output)
{
    private const string Counter = "i=0; while :; do i=$((i+1)); echo $i > /counter.tmp; mv /counter.tmp /counter; sleep 0.02; done";

    private long ReadCounter()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            try
            {
                if (long.TryParse(File.ReadAllText(Bundle.InRootfs("counter")).Trim(), out long value))
                    return value;
            }
            catch (FileNotFoundException)
            {
            }
            if (DateTime.UtcNow > deadline)
                Assert.Fail("the counter file never appeared");
            Thread.Sleep(20);
        }
    }

    private void RunCounter()
    {
        var spec = Specs.Shell(Counter);
        spec["root"]!["readonly"] = false;
        Bundle.WriteConfig(spec);
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        Eventually(() => ReadCounter() > 2, "the counter to run");
    }

    [SkippableFact]
    public void Pause_StopsTheCounter_AndResumeContinuesIt()
    {
        RunCounter();

        var pause = Runtime.Run("pause", Id);

        Assert.True(pause.Succeeded, "pause failed: " + pause);
        Assert.Equal("paused", Status());
        Assert.Equal("FROZEN", CgroupResourceTests.HostCgroupFile(Id, "freezer", "freezer.state"));
        long frozenAt = ReadCounter();
        Thread.Sleep(400);
        Assert.Equal(frozenAt, ReadCounter());

        var resume = Runtime.Run("resume", Id);

        Assert.True(resume.Succeeded, "resume failed: " + resume);
        Assert.Equal("running", Status());
        Eventually(() => ReadCounter() > frozenAt + 3, "the counter to continue after resume");
    }

    [SkippableFact]
    public void PausedContainer_IsRemovedByDeleteForce()
    {
        RunCounter();
        Assert.True(Runtime.Run("pause", Id).Succeeded);

        var delete = Runtime.Run("delete", "--force", Id);

        Assert.True(delete.Succeeded, "delete --force of a paused container failed: " + delete);
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void PauseOfAStoppedContainer_FailsClearly_AndResumeOfARunningOneToo()
    {
        Bundle.WriteConfig(Specs.Shell("true"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        WaitForStatus("stopped");

        var pause = Runtime.Run("pause", Id);

        Assert.False(pause.Succeeded);
        Assert.Contains($"cannot pause container {Id}: it is stopped, not running", pause.Stderr);
        var resume = Runtime.Run("resume", Id);
        Assert.False(resume.Succeeded);
        Assert.Contains($"cannot resume container {Id}: it is stopped, not paused", resume.Stderr);
    }

    [SkippableFact]
    public void UpdateFlags_RoundTripThroughTheCgroupFiles()
    {
        Bundle.WriteConfig(Specs.Shell("sleep 1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);

        var update = Runtime.Run("update", "--memory", "64m", "--memory-reservation", "32m", "--memory-swap", "128m",
            "--cpu-shares", "256", "--cpu-quota", "20000", "--cpu-period", "50000", "--cpuset-cpus", "0", "--cpuset-mems", "0",
            "--pids-limit", "20", Id);

        Assert.True(update.Succeeded, "update failed: " + update);
        string Read(string controller, string file) => CgroupResourceTests.HostCgroupFile(Id, controller, file);
        Assert.Equal("67108864", Read("memory", "memory.limit_in_bytes"));
        Assert.Equal("33554432", Read("memory", "memory.soft_limit_in_bytes"));
        Assert.Equal("134217728", Read("memory", "memory.memsw.limit_in_bytes"));
        Assert.Equal("256", Read("cpu", "cpu.shares"));
        Assert.Equal("20000", Read("cpu", "cpu.cfs_quota_us"));
        Assert.Equal("50000", Read("cpu", "cpu.cfs_period_us"));
        Assert.Equal("0", Read("cpuset", "cpuset.cpus"));
        Assert.Equal("20", Read("pids", "pids.max"));

        // Lowering memory below memory+swap, then raising both again: the write order follows the direction.
        Assert.True(Runtime.Run("update", "--memory", "32m", Id).Succeeded);
        Assert.Equal("33554432", Read("memory", "memory.limit_in_bytes"));
        Assert.True(Runtime.Run("update", "--memory", "256m", "--memory-swap", "512m", Id).Succeeded);
        Assert.Equal("268435456", Read("memory", "memory.limit_in_bytes"));
        Assert.Equal("536870912", Read("memory", "memory.memsw.limit_in_bytes"));
        Assert.Equal("running", Status());
    }

    [SkippableFact]
    public void UpdateFromStdinJson_AsContainerdSendsIt()
    {
        Bundle.WriteConfig(Specs.Shell("sleep 1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        var json = new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 50331648, ["swap"] = 100663296 },
            ["cpu"] = new JsonObject { ["shares"] = 300, ["quota"] = 30000, ["period"] = 100000 },
            ["pids"] = new JsonObject { ["limit"] = 12 },
        };

        var update = Runtime.RunWithInput(json.ToJsonString(), "update", "-r", "-", Id);

        Assert.True(update.Succeeded, "update -r - failed: " + update);
        string Read(string controller, string file) => CgroupResourceTests.HostCgroupFile(Id, controller, file);
        Assert.Equal("50331648", Read("memory", "memory.limit_in_bytes"));
        Assert.Equal("100663296", Read("memory", "memory.memsw.limit_in_bytes"));
        Assert.Equal("300", Read("cpu", "cpu.shares"));
        Assert.Equal("30000", Read("cpu", "cpu.cfs_quota_us"));
        Assert.Equal("12", Read("pids", "pids.max"));
    }

    [SkippableFact]
    public void UpdateErrors_NameTheFlagOrFile()
    {
        Bundle.WriteConfig(Specs.Shell("sleep 1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);

        var badSize = Runtime.Run("update", "--memory", "lots", Id);
        Assert.False(badSize.Succeeded);
        Assert.Contains("--memory \"lots\": not a size", badSize.Stderr);

        var badCpus = Runtime.Run("update", "--cpuset-cpus", "99", Id);
        Assert.False(badCpus.Succeeded);
        Assert.Contains("linux.resources.cpu.cpus: writing 99 to /sys/fs/cgroup/cpuset/", badCpus.Stderr);

        var badJson = Runtime.RunWithInput("{\"memory\": 5}", "update", "-r", "-", Id);
        Assert.False(badJson.Succeeded);
        Assert.Contains("--resources stdin: not LinuxResources JSON", badJson.Stderr);
        Assert.Equal("running", Status());
    }

    [SkippableFact]
    public void KillAllOfAPausedContainer_KillsItThroughCgroupKill()
    {
        RunCounter();
        Assert.True(Runtime.Run("pause", Id).Succeeded);

        var kill = Runtime.Run("kill", "--all", Id, "KILL");

        Assert.True(kill.Succeeded, "kill --all failed: " + kill);
        WaitForStatus("stopped");
    }
}
