using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// linux.cgroupsPath naming cgroups that exist before the container: frozen ones, ones other processes live in, a
/// pod-style parent without cpus, realtime budgets given to the parents; and resources runc 1.1.5 refuses or ignores
/// on a cgroup v1 (or hybrid) host. Each test removes the cgroups it made itself, also when it fails.
/// </summary>
public sealed class PreExistingCgroupTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>The mount point of every cgroup hierarchy this process sees (v1 controllers, named ones, cgroup2).</summary>
    private static List<string> HierarchyMounts() =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f =>
        {
            int dash = Array.IndexOf(f, "-");
            return dash > 0 && f[dash + 1] is "cgroup" or "cgroup2" && f[4].StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal);
        }).Select(f => f[4]).Distinct().ToList();

    private static bool IsV1OrHybridHost() => Directory.Exists("/sys/fs/cgroup/memory") && Directory.Exists("/sys/fs/cgroup/devices");

    /// <summary>mkdir -p of <paramref name="cgroup"/> in the given hierarchies (all when null); returns the leaves.</summary>
    private static List<string> MakeCgroup(string cgroup, IEnumerable<string>? mounts = null)
    {
        var leaves = (mounts ?? HierarchyMounts()).Select(m => m + cgroup).ToList();
        foreach (var leaf in leaves)
            Directory.CreateDirectory(leaf);
        return leaves;
    }

    /// <summary>rmdir of <paramref name="cgroup"/> and its parents up to the first component, deepest first, in every
    /// hierarchy, retried while the kernel still counts processes that just died; returns what stayed.</summary>
    private static List<string> RemoveCgroup(string cgroup)
    {
        var parts = cgroup.Trim('/').Split('/');
        var dirs = HierarchyMounts().SelectMany(m => Enumerable.Range(1, parts.Length).Select(n => m + "/" + string.Join('/', parts[..n])))
            .OrderByDescending(d => d.Length).ToList();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var left = new List<string>();
            foreach (var dir in dirs.Where(Directory.Exists))
            {
                try
                {
                    Directory.Delete(dir, recursive: false);
                }
                catch (IOException)
                {
                    left.Add(dir);
                }
            }
            if (left.Count == 0 || DateTime.UtcNow > deadline)
                return left;
            Thread.Sleep(100);
        }
    }

    /// <summary>A `sleep` that lives in <paramref name="cgroup"/> of every hierarchy, as another workload would.</summary>
    private System.Diagnostics.Process StartNeighbour(string cgroup)
    {
        var neighbour = StartHelper("sleep", "1000");
        foreach (var leaf in MakeCgroup(cgroup))
        {
            // A v1 cpuset cgroup takes tasks only once it has cpus and mems (the workload's manager gives them).
            foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" }.Where(f => File.Exists(Path.Combine(leaf, f))))
                File.WriteAllText(Path.Combine(leaf, file), File.ReadAllText(Path.Combine(Path.GetDirectoryName(leaf)!, file)).Trim());
            File.WriteAllText(Path.Combine(leaf, "cgroup.procs"), neighbour.Id.ToString());
        }
        return neighbour;
    }

    private static void StopNeighbour(System.Diagnostics.Process neighbour)
    {
        if (neighbour.HasExited)
            return;
        neighbour.Kill();
        neighbour.WaitForExit(10_000);
    }

    private JsonObject SleeperIn(string cgroupsPath)
    {
        var spec = Specs.Default("sleep", "1000");
        spec.Linux()["cgroupsPath"] = cgroupsPath;
        return spec;
    }

    private string LogFile => Path.Combine(WorkDirectory, "runtime.log");

    private RuntimeResult Logged(params string[] args) => Runtime.Run(args, ["--log", LogFile]);

    private string LogText => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    // runc 1.1.5: "container's cgroup unexpectedly frozen", before it makes anything. A process placed in a frozen
    // cgroup stops before it can answer, so a runtime that joins it waits forever.
    [SkippableFact]
    public void FrozenCgroupNamedByCgroupsPath_IsRefusedWithoutHanging_AndKeptAsItWas()
    {
        Skip.IfNot(Directory.Exists("/sys/fs/cgroup/freezer"), "no cgroup v1 freezer hierarchy on this host");
        var cgroup = "/bt-frozen-" + Id;
        try
        {
            var leaf = Assert.Single(MakeCgroup(cgroup, ["/sys/fs/cgroup/freezer"]));
            File.WriteAllText(Path.Combine(leaf, "freezer.state"), "FROZEN");
            Eventually(() => File.ReadAllText(Path.Combine(leaf, "freezer.state")).Trim() == "FROZEN", "the empty cgroup to freeze");

            var result = Create(SleeperIn(cgroup));

            Assert.False(result.TimedOut, "create hung on a frozen cgroup: " + result);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("frozen", result.Stderr);
            Assert.True(Directory.Exists(leaf), "the frozen cgroup (not the container's to remove) is gone");
            Assert.Equal("FROZEN", File.ReadAllText(Path.Combine(leaf, "freezer.state")).Trim());
            Assert.Equal("", File.ReadAllText(Path.Combine(leaf, "cgroup.procs")).Trim());
            Leaks.AssertClean();
        }
        finally
        {
            foreach (var leaf in HierarchyMounts().Select(m => m + cgroup).Where(d => File.Exists(Path.Combine(d, "freezer.state"))))
                File.WriteAllText(Path.Combine(leaf, "freezer.state"), "THAWED");
            Assert.Empty(RemoveCgroup(cgroup));
        }
    }

    /// <summary>
    /// Runs <paramref name="test"/> with the cgroup "/bt-shared-ID" (its argument) already holding another process (the
    /// second), as a cgroupsPath naming a shared cgroup finds it; then deletes the container, stops that process and
    /// removes the cgroup.
    /// </summary>
    private void WithNeighbour(Action<string, System.Diagnostics.Process> test)
    {
        var cgroup = "/bt-shared-" + Id;
        var neighbour = StartNeighbour(cgroup);
        try
        {
            test(cgroup, neighbour);
        }
        finally
        {
            Runtime.Run("delete", "--force", Id);
            StopNeighbour(neighbour);
            Assert.Empty(RemoveCgroup(cgroup));
        }
    }

    // runc 1.1.5 warns "container's cgroup is not empty: N process(es) found" (1.2 refuses) and goes on.
    [SkippableFact]
    public void NonEmptyCgroup_GetsRuncsWarning() => WithNeighbour((cgroup, _) =>
    {
        Bundle.WriteConfig(SleeperIn(cgroup));

        var create = Logged("create", "--bundle", Bundle.Path, Id);

        Assert.True(create.Succeeded, "create failed: " + create);
        Assert.Contains("container's cgroup is not empty: 1 process(es) found", LogText);
    });

    // The review finding: a create that fails after its cgroups were made removed them by killing whatever kept them
    // busy, so a cgroupsPath naming a shared cgroup killed its other processes. runc only rmdirs (and warns).
    [SkippableFact]
    public void FailedCreateInASharedCgroup_LeavesTheOtherProcessesAlive() => WithNeighbour((cgroup, neighbour) =>
    {
        var spec = CgroupResourceTests.WithResources(SleeperIn(cgroup), new JsonObject { ["cpu"] = new JsonObject { ["cpus"] = "99" } });

        var create = Create(spec);

        Assert.False(create.Succeeded, "create should fail on cpus 99: " + create);
        Thread.Sleep(200); // a SIGKILL would have landed by now
        Assert.False(neighbour.HasExited, "the failed create killed a process it had not made");
        Assert.All(HierarchyMounts(), m => Assert.Contains(neighbour.Id.ToString(), File.ReadAllText(m + cgroup + "/cgroup.procs")));
    });

    [SkippableFact]
    public void DeleteForceOfAContainerInASharedCgroup_KillsOnlyTheContainer() => WithNeighbour((cgroup, neighbour) =>
    {
        Bundle.WriteConfig(SleeperIn(cgroup));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        int init = Pid();

        var delete = Runtime.Run("delete", "--force", Id);

        Assert.Equal(0, delete.ExitCode);
        Assert.False(delete.TimedOut, delete.ToString());
        Eventually(() => !Directory.Exists($"/proc/{init}"), "the container's init to be gone");
        Thread.Sleep(200);
        Assert.False(neighbour.HasExited, "delete --force killed a process the container had not made");
    });

    // runc (libcontainer/cgroups/fs/cpuset.go) fills every ancestor whose cpuset.cpus or cpuset.mems is empty from its
    // parent, top-down, and the container's own last, before it writes a pid: an empty cpuset refuses tasks (ENOSPC).
    [SkippableFact]
    public void NestedCpusetCgroup_BelowAPodStyleParentWithoutCpus_GetsItsParentsCpusAndMems()
    {
        Skip.IfNot(Directory.Exists("/sys/fs/cgroup/cpuset"), "no cgroup v1 cpuset hierarchy on this host");
        var pod = "/bt-pod-" + Id;
        try
        {
            var podDir = Assert.Single(MakeCgroup(pod, ["/sys/fs/cgroup/cpuset"]));
            Assert.Equal("", File.ReadAllText(Path.Combine(podDir, "cpuset.cpus")).Trim()); // clone_children is off
            Bundle.WriteConfig(SleeperIn($"{pod}/{Id}"));

            var run = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);

            Assert.True(run.Succeeded, "run failed: " + run);
            string rootCpus = File.ReadAllText("/sys/fs/cgroup/cpuset/cpuset.cpus").Trim();
            string rootMems = File.ReadAllText("/sys/fs/cgroup/cpuset/cpuset.mems").Trim();
            Assert.Equal(rootCpus, File.ReadAllText(Path.Combine(podDir, "cpuset.cpus")).Trim());
            Assert.Equal(rootMems, File.ReadAllText(Path.Combine(podDir, "cpuset.mems")).Trim());
            Assert.Equal(rootCpus, File.ReadAllText(Path.Combine(podDir, Id, "cpuset.cpus")).Trim());
            Assert.Contains(Pid().ToString(), File.ReadAllLines(Path.Combine(podDir, Id, "cgroup.procs")));
            Assert.True(Runtime.Run("delete", "--force", Id).Succeeded);
        }
        finally
        {
            Runtime.Run("delete", "--force", Id);
            Assert.Empty(RemoveCgroup(pod + "/" + Id));
        }
    }

    // runc 1.1.5's cgroup v1 manager (used on hybrid hosts too) refuses any unified entry, at create and at update:
    // "invalid configuration: cannot use unified on cgroup v1". Nothing is written.
    [SkippableFact]
    public void UnifiedResources_OnACgroupV1Host_AreRefusedAsRuncRefusesThem()
    {
        Skip.IfNot(IsV1OrHybridHost(), "the controllers of this host are not on cgroup v1 hierarchies");
        var spec = CgroupResourceTests.WithResources(Specs.Default("sleep", "1000"), new JsonObject
        {
            ["pids"] = new JsonObject { ["limit"] = 50 },
            ["unified"] = new JsonObject { ["cgroup.max.depth"] = "3" },
        });

        var create = Create(spec);

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("cannot use unified on cgroup v1", create.Stderr);
        Assert.Empty(LeakCheck.CgroupDirectoriesNamed(Id));

        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        var update = Runtime.RunWithInput("{\"pids\":{\"limit\":7},\"unified\":{\"cgroup.max.depth\":\"3\"}}", "update", "-r", "-", Id);
        Assert.NotEqual(0, update.ExitCode);
        Assert.Contains("cannot use unified on cgroup v1", update.Stderr);
        Assert.Equal("max", CgroupResourceTests.HostCgroupFile(Id, "pids", "pids.max"));
    }

    // runc 1.1.5 ignores memory.kernel and memory.kernelTCP ("Kernel memory settings are ignored and will be removed"),
    // at create, at update and for update's --kernel-memory flags: configs from older generators carry them.
    [SkippableFact]
    public void KernelMemoryLimits_AreIgnoredWithAWarning()
    {
        var spec = CgroupResourceTests.WithResources(Specs.Default("sleep", "1000"), new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 67108864, ["kernel"] = 33554432, ["kernelTCP"] = 16777216 },
        });
        Bundle.WriteConfig(spec);

        var run = Logged("run", "-d", "--bundle", Bundle.Path, Id);
        var update = Runtime.RunWithInput("{\"memory\":{\"kernel\":50331648,\"kernelTCP\":8388608}}", "update", "-r", "-", Id);
        var flags = Logged("update", "--kernel-memory", "50331648", "--kernel-memory-tcp", "8388608", Id);

        Assert.True(run.Succeeded, "run failed: " + run);
        Assert.True(update.Succeeded, "update -r failed: " + update);
        Assert.True(flags.Succeeded, "update --kernel-memory failed: " + flags);
        Assert.Equal("67108864", CgroupResourceTests.HostCgroupFile(Id, "memory", "memory.limit_in_bytes"));
        Assert.Equal(2, LogText.Split("Kernel memory settings are ignored").Length - 1);
    }

    // runc's update.bats "update rt period and runtime": a new cgroup's cpu.rt_runtime_us is 0, which leaves no
    // realtime budget for the container, so the test gives the parents the root's budget first; then the updates land
    // in the container's cgroup (runc 1.1.5 writes only there, not in the parents).
    [SkippableFact]
    public void RealtimeUpdates_WithParentsGivenTheRootsBudget_LandInTheContainersCgroup()
    {
        Skip.IfNot(File.Exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"), "no cgroup v1 realtime group scheduling on this host");
        var parent = "/bt-rt-" + Id;
        var leaf = $"/sys/fs/cgroup/cpu{parent}/{Id}";
        string period = File.ReadAllText("/sys/fs/cgroup/cpu/cpu.rt_period_us").Trim();
        string runtime = File.ReadAllText("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").Trim();
        try
        {
            foreach (var dir in new[] { $"/sys/fs/cgroup/cpu{parent}", leaf })
            {
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "cpu.rt_period_us"), period);
                File.WriteAllText(Path.Combine(dir, "cpu.rt_runtime_us"), runtime);
            }
            Bundle.WriteConfig(SleeperIn($"{parent}/{Id}"));
            Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
            string Read(string file) => File.ReadAllText(Path.Combine(leaf, file)).Trim();

            var runtimeOnly = Runtime.RunWithInput("{\"cpu\":{\"realtimeRuntime\":500001}}", "update", "-r", "-", Id);
            Assert.True(runtimeOnly.Succeeded, runtimeOnly.ToString());
            Assert.Equal((period, "500001"), (Read("cpu.rt_period_us"), Read("cpu.rt_runtime_us")));

            var both = Runtime.RunWithInput("{\"cpu\":{\"realtimePeriod\":800001,\"realtimeRuntime\":500001}}", "update", "-r", "-", Id);
            Assert.True(both.Succeeded, both.ToString());
            Assert.Equal(("800001", "500001"), (Read("cpu.rt_period_us"), Read("cpu.rt_runtime_us")));

            var flags = Runtime.Run("update", "--cpu-rt-period", "900001", "--cpu-rt-runtime", "600001", Id);
            Assert.True(flags.Succeeded, flags.ToString());
            Assert.Equal(("900001", "600001"), (Read("cpu.rt_period_us"), Read("cpu.rt_runtime_us")));
            Assert.Equal(runtime, File.ReadAllText($"/sys/fs/cgroup/cpu{parent}/cpu.rt_runtime_us").Trim());
        }
        finally
        {
            Runtime.Run("delete", "--force", Id);
            Assert.Empty(RemoveCgroup(parent + "/" + Id));
        }
    }
}
