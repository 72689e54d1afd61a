using System.Diagnostics;
using Berth.Oci;
using Process = System.Diagnostics.Process;

namespace Berth.Cgroups.Tests;

/// <summary>Against the real kernel: every test cleans up its cgroups and processes, also on failure.</summary>
public class CgroupIntegrationTests
{
    static string NewId() => "berth-it-" + Guid.NewGuid().ToString("N")[..12];

    static LinuxDeviceCgroup Rule(bool allow, string? type = null, long? major = null, long? minor = null, string access = "rwm") =>
        new() { Allow = allow, Type = type, Major = major, Minor = minor, Access = access };

    static IEnumerable<CgroupHierarchy> Used(CgroupHost host) =>
        host.Hierarchies.Where(h => host.Mode != CgroupMode.V2 || h.IsV2);

    static Process Start(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }

    /// <summary>Best-effort teardown for finally blocks; the test's own assertions check the real outcome.</summary>
    static void CleanUp(CgroupManager m, Process? process)
    {
        if (process is { HasExited: false })
        {
            process.Kill();
            process.WaitForExit(5000);
        }
        try
        {
            m.Destroy();
        }
        catch (CgroupException)
        {
        }
    }

    /// <summary>The cgroup /proc/PID/cgroup shows for this hierarchy.</summary>
    static string CgroupOf(int pid, CgroupHierarchy h)
    {
        string[] names = h.Name is null ? [.. h.Controllers] : [.. h.Controllers, "name=" + h.Name];
        foreach (string line in File.ReadAllLines($"/proc/{pid}/cgroup"))
        {
            string[] parts = line.Split(':', 3);
            bool match = h.IsV2 ? parts[0] == "0" && parts[1] == ""
                : parts[1].Split(',').Order().SequenceEqual(names.Order());
            if (match)
                return parts[2];
        }
        throw new Xunit.Sdk.XunitException($"no line for {h.MountPoint} in /proc/{pid}/cgroup");
    }

    [RootFact]
    public void ContainerLifecycleInEveryHierarchy()
    {
        var host = CgroupHost.Detect();
        string id = NewId();
        var m = CgroupManager.ForContainer(host, id, null);
        Process? sleep = null;
        try
        {
            m.Create();
            foreach (var h in Used(host))
            {
                string dir = CgroupPath.Join(h.CallerDirectory, id);
                Assert.True(Directory.Exists(dir), dir);
                Assert.True(StatfsCgroupFs.Instance.IsCgroupFs(dir), dir);
            }
            if (host.Mode == CgroupMode.Hybrid)
                Assert.Equal(host.Unified!.MountPoint + "/" + id, m.Paths[CgroupManager.HybridUnifiedKey]);

            sleep = Start("sleep", "30");
            m.AddProcess(sleep.Id);
            foreach (var h in Used(host))
                Assert.Equal(CgroupPath.Join(h.CallerCgroup, id), CgroupOf(sleep.Id, h));

            if (host.Mode != CgroupMode.V2)
            {
                m.Apply(new LinuxResources { Devices = [Rule(false), Rule(true, "c", 1, 3), Rule(true, "c", 1, 5, "r")] });
                Assert.Equal(["c 1:3 rwm", "c 1:5 r"], File.ReadAllLines(Path.Combine(m.Paths["devices"], "devices.list")));
            }
            Assert.Equal([sleep.Id], m.Pids());

            m.Destroy(); // the sleep is still running: Destroy has to kill it
            Assert.True(sleep.WaitForExit(5000));
            Assert.Equal(128 + 9, sleep.ExitCode);
            Assert.All(m.Paths.Values, dir => Assert.False(Directory.Exists(dir), dir));
            Assert.Empty(m.Pids());
        }
        finally
        {
            CleanUp(m, sleep);
        }
        Assert.All(m.Paths.Values, dir => Assert.False(Directory.Exists(dir), dir));
    }

    [RootFact]
    public void DeviceRulesAreEnforcedOnV1()
    {
        var host = CgroupHost.Detect();
        if (host.Mode == CgroupMode.V2)
            return; // v2 needs the eBPF filter: refused, covered by the unit tests
        var m = CgroupManager.ForContainer(host, NewId(), null);
        Process? sh = null;
        try
        {
            m.Create();
            m.Apply(new LinuxResources { Devices = [Rule(false), Rule(true, "c", 1, 5, "r")] });
            // The shell waits for a line so that it opens the devices only once it is inside the cgroup.
            sh = Start("/bin/sh", "-c", "read go; head -c 3 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c");
            m.AddProcess(sh.Id);
            sh.StandardInput.WriteLine("go");
            sh.StandardInput.Close();
            string output = sh.StandardOutput.ReadToEnd(), errors = sh.StandardError.ReadToEnd();
            Assert.True(sh.WaitForExit(5000));
            // /dev/zero (1:5) is readable; /dev/urandom (1:9) is not.
            Assert.Equal(["3", "0"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.Contains("/dev/urandom", errors);
            Assert.Contains("Operation not permitted", errors);
        }
        finally
        {
            CleanUp(m, sh);
        }
        Assert.All(m.Paths.Values, dir => Assert.False(Directory.Exists(dir), dir));
    }

    [RootFact]
    public void AbsolutePathParentsAreCreatedAndRemovedWithNestedCgroups()
    {
        var host = CgroupHost.Detect();
        string parent = NewId(), id = NewId();
        var m = CgroupManager.ForContainer(host, id, $"/{parent}/{id}");
        Process? sleep = null;
        try
        {
            m.Create();
            foreach (var h in Used(host))
                Assert.True(Directory.Exists($"{h.MountPoint}/{parent}/{id}"));
            Assert.Equal(2 * m.Directories.Count, m.CreatedDirectories.Count);

            // A process in a nested cgroup the container made itself (on v2, or in the v1 freezer).
            string key = host.Mode == CgroupMode.V1 ? "freezer" : host.Mode == CgroupMode.V2 ? "" : "unified";
            string nested = Path.Combine(m.Paths[key], "inner");
            Directory.CreateDirectory(nested);
            sleep = Start("sleep", "30");
            m.AddProcess(sleep.Id);
            File.WriteAllText(Path.Combine(nested, "cgroup.procs"), sleep.Id.ToString());
            Assert.Contains(sleep.Id, m.Pids());

            m.Destroy();
            Assert.True(sleep.WaitForExit(5000));
            foreach (var h in Used(host))
                Assert.False(Directory.Exists($"{h.MountPoint}/{parent}"), $"{h.MountPoint}/{parent}");
        }
        finally
        {
            CleanUp(m, sleep);
            foreach (var h in Used(host))
                if (Directory.Exists($"{h.MountPoint}/{parent}"))
                    Directory.Delete($"{h.MountPoint}/{parent}"); // rmdir of an empty cgroup
        }
    }

    [RootFact]
    public void HierarchyThatIsNotMountedIsRefusedWithoutPlainDirectories()
    {
        // The real host plus a named hierarchy that /proc/self/mountinfo claims but that is not mounted:
        // its path lands on the /sys/fs/cgroup tmpfs, where a mkdir would succeed and create a plain directory.
        var real = CgroupHost.Detect();
        string fakeMount = "/sys/fs/cgroup/" + NewId();
        string mountinfo = File.ReadAllText("/proc/self/mountinfo") + $"999 30 0:999 / {fakeMount} rw - cgroup cgroup rw,name=berthtest\n";
        string cgroup = File.ReadAllText("/proc/self/cgroup") + "99:name=berthtest:/\n";
        var host = CgroupHost.Parse(mountinfo, cgroup);
        Assert.Equal(real.Hierarchies.Count + 1, host.Hierarchies.Count);

        string id = NewId();
        var m = CgroupManager.ForContainer(host, id, "/" + id);
        try
        {
            var e = Assert.Throws<CgroupException>(m.Create);
            Assert.Contains(fakeMount, e.Message);
            Assert.False(Directory.Exists(fakeMount));
            // What was made in the real hierarchies before the refusal was removed again.
            Assert.All(m.Paths.Values, dir => Assert.False(Directory.Exists(dir), dir));
            Assert.Empty(m.CreatedDirectories);
        }
        finally
        {
            CleanUp(m, null);
        }
    }

    [RootFact]
    public void PathOnTheCgroupTmpfsItselfIsRefused()
    {
        // What a runtime does when the cgroup2 mount is hidden: "unified" resolves to the tmpfs below it.
        string dir = "/sys/fs/cgroup/" + NewId();
        var m = CgroupManager.Load(new Dictionary<string, string> { [CgroupManager.HybridUnifiedKey] = dir + "/ctr" });
        try
        {
            var e = Assert.Throws<CgroupException>(m.Create);
            Assert.Contains("/sys/fs/cgroup is not on a cgroup filesystem", e.Message);
            Assert.False(Directory.Exists(dir));
            Assert.Throws<CgroupException>(() => m.AddProcess(Environment.ProcessId));
        }
        finally
        {
            if (Directory.Exists(dir + "/ctr"))
                Directory.Delete(dir + "/ctr");
            if (Directory.Exists(dir))
                Directory.Delete(dir);
        }
    }
    [RootFact]
    public void RealCgroup2HierarchyFreezesAndThaws()
    {
        var host = CgroupHost.Detect();
        if (host.Unified is null)
            return; // pure v1: covered by the v1 freezer in the runtime's integration tests
        string id = NewId();
        string dir = CgroupPath.Join(host.Unified.MountPoint, id);
        // Only the cgroup2 directory: Freeze has to use cgroup.freeze even on this hybrid host.
        var m = CgroupManager.Load(new Dictionary<string, string> { [host.Mode == CgroupMode.V2 ? CgroupManager.V2Key : CgroupManager.HybridUnifiedKey] = dir });
        Process? sleep = null;
        try
        {
            m.Create();
            sleep = Start("sleep", "30");
            m.AddProcess(sleep.Id);
            m.Freeze();
            Assert.True(m.IsFrozen());
            Assert.Contains("frozen 1", File.ReadAllText(Path.Combine(dir, "cgroup.events")));
            m.Thaw();
            Assert.False(m.IsFrozen());
            Assert.Contains("frozen 0", File.ReadAllText(Path.Combine(dir, "cgroup.events")));
            m.Freeze(); // Destroy must still kill a frozen container
            m.Destroy();
            Assert.True(sleep.WaitForExit(5000));
            Assert.False(Directory.Exists(dir));
        }
        finally
        {
            CleanUp(m, sleep);
        }
    }
}
