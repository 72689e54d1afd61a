using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>linux.resources on this host's cgroup v1 controllers: visible in the container's cgroup files, and enforced.</summary>
[Collection(HostCgroup2Collection.Name)] // the hugetlb test enables hugetlb in the cgroup2 root, then disables it
public sealed class CgroupResourceTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>A file of the container's cgroup in a v1 hierarchy of this host, read from the host side.</summary>
    internal static string HostCgroupFile(string id, string controller, string file)
    {
        var dir = Assert.Single(LeakCheck.CgroupDirectoriesNamed(id), d => d.StartsWith($"/sys/fs/cgroup/{controller}/", StringComparison.Ordinal));
        return File.ReadAllText(Path.Combine(dir, file)).Trim();
    }

    internal static JsonObject WithResources(JsonObject spec, JsonObject resources)
    {
        var target = spec.Linux()["resources"]!.AsObject();
        foreach (var (key, value) in resources.ToList())
        {
            resources.Remove(key);
            target[key] = value;
        }
        return spec;
    }

    private static JsonObject Limits() => new()
    {
        ["memory"] = new JsonObject { ["limit"] = 33554432 },
        ["pids"] = new JsonObject { ["limit"] = 16 },
        ["cpu"] = new JsonObject { ["shares"] = 512, ["quota"] = 50000, ["period"] = 100000 },
    };

    [SkippableFact]
    public void Limits_AreVisibleInTheContainersCgroupFiles()
    {
        // Inside, /sys/fs/cgroup/<controller> is the container's own cgroup (cgroup namespace).
        var spec = WithResources(Specs.Shell(
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max " +
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares"), Limits());

        var lines = RunShell(spec).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(["33554432", "16", "50000", "100000", "512"], lines);
    }

    [SkippableFact]
    public void Limits_AreWrittenToTheHostCgroupDirectories()
    {
        Assert.True(Create(WithResources(Specs.Shell("sleep 100"), Limits())).Succeeded);
        string Read(string controller, string file) => HostCgroupFile(Id, controller, file);

        Assert.Equal("33554432", Read("memory", "memory.limit_in_bytes"));
        Assert.Equal("16", Read("pids", "pids.max"));
        Assert.Equal("50000", Read("cpu", "cpu.cfs_quota_us"));
        Assert.Equal("512", Read("cpu", "cpu.shares"));
    }

    [SkippableFact]
    public void PidsLimit_StopsAShellFromForking()
    {
        var spec = WithResources(
            Specs.Shell("(for i in $(seq 30); do sleep 5 & done) 2>&1; echo \"loop exited $?\""),
            new JsonObject { ["pids"] = new JsonObject { ["limit"] = 16 } });

        var stdout = RunShell(spec);

        Assert.Contains("can't fork", stdout);
        Assert.DoesNotContain("loop exited 0", stdout);
    }

    [SkippableFact]
    public void ImpossibleCpuset_FailsCreateNamingFileAndValue_AndLeavesNothing()
    {
        var spec = WithResources(Specs.Shell("true"), new JsonObject { ["cpu"] = new JsonObject { ["cpus"] = "99" } });

        var result = Create(spec);

        Assert.False(result.Succeeded, "create should fail: " + result);
        Assert.Contains("linux.resources.cpu.cpus: writing 99 to /sys/fs/cgroup/cpuset/", result.Stderr);
        // The kernel says EINVAL or (since 6.x) ERANGE; either way the file and the value are named.
        Assert.Matches($"/{Id}/cpuset.cpus: (Invalid argument|Numerical result out of range)", result.Stderr);
        Assert.Empty(LeakCheck.CgroupDirectoriesNamed(Id));
        Leaks.AssertClean();
    }

    /// <summary>This host's hugetlb controller is on cgroup2 only (v1 hierarchies carry the rest).</summary>
    private static bool HugetlbOnlyOnCgroup2() =>
        !Directory.Exists("/sys/fs/cgroup/hugetlb") && File.Exists("/sys/fs/cgroup/unified/cgroup.controllers")
        && File.ReadAllText("/sys/fs/cgroup/unified/cgroup.controllers").Split(' ', StringSplitOptions.TrimEntries).Contains("hugetlb");

    [SkippableFact]
    public void HugepageLimits_OnAHybridHost_GoToTheCgroup2Directory_AndShowInStats()
    {
        Skip.IfNot(HugetlbOnlyOnCgroup2(), "this host's hugetlb controller is not (only) on /sys/fs/cgroup/unified");
        Skip.IfNot(Directory.Exists("/sys/kernel/mm/hugepages/hugepages-2048kB"), "no 2MB huge pages on this kernel");
        // The runtime enables hugetlb in the cgroup2 root's subtree_control and, as runc, leaves it on.
        RestoreSubtreeControlAfterwards("/sys/fs/cgroup/unified/cgroup.subtree_control");
        var spec = WithResources(Specs.Shell("sleep 100"), new JsonObject
        {
            ["hugepageLimits"] = new JsonArray(new JsonObject { ["pageSize"] = "2MB", ["limit"] = 4194304 }),
        });

        var result = Create(spec);

        Assert.True(result.Succeeded, "create failed: " + result);
        var dir = Assert.Single(LeakCheck.CgroupDirectoriesNamed(Id), d => d.StartsWith("/sys/fs/cgroup/unified/", StringComparison.Ordinal));
        Assert.Equal("4194304", File.ReadAllText(Path.Combine(dir, "hugetlb.2MB.max")).Trim());
        var stats = Runtime.Run("events", "--stats", Id);
        Assert.True(stats.Succeeded, "events --stats failed: " + stats);
        Assert.NotNull(JsonNode.Parse(stats.Stdout)!["data"]!["hugetlb"]!["2MB"]);
    }

    [SkippableFact]
    public void HugepageLimits_OfASizeTheHostLacks_AreRefusedNamingIt_AndLeaveNothing()
    {
        Skip.If(Directory.Exists("/sys/kernel/mm/hugepages/hugepages-1048576kB"), "this kernel has 1GB huge pages");
        var spec = WithResources(Specs.Shell("true"), new JsonObject
        {
            ["hugepageLimits"] = new JsonArray(new JsonObject { ["pageSize"] = "1GB", ["limit"] = 1073741824 }),
        });

        var result = Create(spec);

        Assert.False(result.Succeeded, "create should fail: " + result);
        Assert.Contains("linux.resources.hugepageLimits[0].pageSize \"1GB\" is not a huge page size of this host (it has ", result.Stderr);
        Assert.Empty(LeakCheck.CgroupDirectoriesNamed(Id));
        Leaks.AssertClean();
    }
}
