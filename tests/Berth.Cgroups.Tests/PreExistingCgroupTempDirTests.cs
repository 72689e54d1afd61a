using Berth.Oci;

namespace Berth.Cgroups.Tests;

/// <summary>
/// A temp dir laid out as a pure v1, hybrid or pure v2 host (devices, freezer, cpuset and memory v1 hierarchies;
/// cgroup2 at "unified", or alone at "v2"). Directories and files are made by the test, as the kernel would show them.
/// </summary>
sealed class LayoutTree : IDisposable
{
    public LayoutTree(CgroupMode mode)
    {
        Root = Directory.CreateTempSubdirectory("berth-layout-").FullName;
        var mounts = new List<string>();
        string mountinfo = "", cgroup = "";
        int id = 40;
        if (mode != CgroupMode.V2)
        {
            foreach (string controller in (string[])["devices", "freezer", "cpuset", "memory"])
            {
                mounts.Add($"{Root}/{controller}");
                mountinfo += $"{id} 22 0:{id} / {Root}/{controller} rw - cgroup cgroup rw,{controller}\n";
                cgroup += $"{id}:{controller}:/\n";
                id++;
            }
        }
        if (mode != CgroupMode.V1)
        {
            string at = mode == CgroupMode.V2 ? "v2" : "unified";
            mounts.Add($"{Root}/{at}");
            mountinfo += $"{id} 22 0:{id} / {Root}/{at} rw - cgroup2 cgroup2 rw\n";
            cgroup += "0::/\n";
        }
        foreach (string mount in mounts)
            Directory.CreateDirectory(mount);
        Host = CgroupHost.Parse(mountinfo, cgroup);
        Fs = new FakeCgroupFs([.. mounts]);
    }

    public string Root { get; }
    public CgroupHost Host { get; }
    public FakeCgroupFs Fs { get; }

    public string this[string relative] => Path.Combine(Root, relative);

    /// <summary>Makes <paramref name="relative"/> with the given files (name → content).</summary>
    public string Dir(string relative, params (string File, string Content)[] files)
    {
        string dir = this[relative];
        Directory.CreateDirectory(dir);
        foreach (var (file, content) in files)
            File.WriteAllText(Path.Combine(dir, file), content);
        return dir;
    }

    public string Read(string relative) => File.ReadAllText(this[relative]);

    public string[] AllDirectories() =>
        Directory.GetDirectories(Root, "*", SearchOption.AllDirectories).Select(d => d[(Root.Length + 1)..]).Order().ToArray();

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public class PreExistingCgroupTempDirTests
{
    [Theory]
    [InlineData("FROZEN")]
    [InlineData("FREEZING")]
    public void AFrozenV1FreezerCgroupIsRefusedBeforeAnythingIsMade(string state)
    {
        using var tree = new LayoutTree(CgroupMode.V1);
        tree.Dir("freezer/pod/c1", ("freezer.state", state + "\n"));
        var before = tree.AllDirectories();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod/c1", tree.Fs);

        var e = Assert.Throws<CgroupException>(m.Create);

        Assert.Contains($"the container's cgroup {tree["freezer/pod/c1"]} is frozen (freezer.state {state})", e.Message);
        Assert.Equal(before, tree.AllDirectories());
        Assert.Empty(m.CreatedDirectories);
    }

    [Fact]
    public void ACgroupToBeMadeBelowAFrozenV1ParentIsRefused()
    {
        using var tree = new LayoutTree(CgroupMode.Hybrid);
        tree.Dir("freezer/pod", ("freezer.state", "FROZEN\n"));
        var before = tree.AllDirectories();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod/c1", tree.Fs);

        var e = Assert.Throws<CgroupException>(m.Create);

        Assert.Contains($"{tree["freezer/pod/c1"]} would be made below the frozen cgroup {tree["freezer/pod"]} (freezer.state FROZEN)", e.Message);
        Assert.Equal(before, tree.AllDirectories());
    }

    [Theory]
    [InlineData(CgroupMode.V2, "v2")]
    [InlineData(CgroupMode.Hybrid, "unified")]
    public void AFrozenCgroup2DirectoryIsRefused(CgroupMode mode, string mount)
    {
        using var tree = new LayoutTree(mode);
        tree.Dir($"{mount}/pod/c1", ("cgroup.freeze", "1\n"), ("cgroup.events", "populated 0\nfrozen 1\n"));
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod/c1", tree.Fs);

        var e = Assert.Throws<CgroupException>(m.Create);

        Assert.Contains($"the container's cgroup {tree[$"{mount}/pod/c1"]} is frozen (cgroup.freeze 1)", e.Message);
    }

    [Fact]
    public void ACgroup2DirectoryToBeMadeBelowAFrozenParentIsRefused()
    {
        using var tree = new LayoutTree(CgroupMode.V2);
        tree.Dir("v2/pod", ("cgroup.freeze", "0\n"), ("cgroup.events", "populated 0\nfrozen 1\n")); // an ancestor of pod froze it
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod/c1", tree.Fs);

        var e = Assert.Throws<CgroupException>(m.Create);

        Assert.Contains($"{tree["v2/pod/c1"]} would be made below the frozen cgroup {tree["v2/pod"]} (cgroup.events: frozen 1)", e.Message);
    }

    [Theory]
    [InlineData(CgroupMode.V1)]
    [InlineData(CgroupMode.Hybrid)]
    [InlineData(CgroupMode.V2)]
    public void ThawedCgroupsAreUsedAsTheyAre(CgroupMode mode)
    {
        using var tree = new LayoutTree(mode);
        if (mode != CgroupMode.V2)
            tree.Dir("freezer/pod/c1", ("freezer.state", "THAWED\n"));
        if (mode != CgroupMode.V1)
            tree.Dir(mode == CgroupMode.V2 ? "v2/pod/c1" : "unified/pod/c1", ("cgroup.freeze", "0\n"), ("cgroup.events", "frozen 0\n"));
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod/c1", tree.Fs);

        m.Create();

        Assert.All(m.Directories, d => Assert.True(Directory.Exists(d), d));
    }

    [Theory]
    [InlineData(CgroupMode.V1)]
    [InlineData(CgroupMode.V2)]
    public void ProcessesAlreadyInTheContainersCgroupsAreCounted(CgroupMode mode)
    {
        using var tree = new LayoutTree(mode);
        string first = mode == CgroupMode.V2 ? "v2/pod" : "memory/pod";
        tree.Dir(first, ("cgroup.procs", "12\n13\n"));
        tree.Dir(first + "/nested", ("cgroup.procs", "14\n"));
        if (mode == CgroupMode.V1)
            tree.Dir("devices/pod", ("cgroup.procs", "12\n15\n"));
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod", tree.Fs);

        Assert.Equal(mode == CgroupMode.V2 ? [12, 13, 14] : [12, 13, 14, 15], m.ProcessesAlreadyThere());
        // With what MissingDirectories found: the existing directories are still read.
        Assert.Equal(mode == CgroupMode.V2 ? [12, 13, 14] : [12, 13, 14, 15], m.ProcessesAlreadyThere(m.MissingDirectories()));
        var other = CgroupManager.ForContainer(tree.Host, "c2", "/other", tree.Fs);
        Assert.Empty(other.ProcessesAlreadyThere());
        Assert.Empty(other.ProcessesAlreadyThere(other.MissingDirectories()));
    }

    [Fact]
    public void CpusetAncestorsWithoutCpusGetTheirParentsBeforeTheLeafGetsItsFirstPid()
    {
        using var tree = new LayoutTree(CgroupMode.Hybrid);
        (string, string)[] empty = [("cpuset.cpus", "\n"), ("cpuset.mems", "\n"), ("cgroup.procs", "")];
        tree.Dir("cpuset", ("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n"));
        tree.Dir("cpuset/kubepods", ("cpuset.cpus", "1-3\n"), ("cpuset.mems", "0\n"));
        tree.Dir("cpuset/kubepods/pod1", empty); // a pod-style parent someone else made, with clone_children off
        tree.Dir("cpuset/kubepods/pod1/c1", empty);
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/kubepods/pod1/c1", tree.Fs);

        m.Create();

        Assert.Equal("1-3", tree.Read("cpuset/kubepods/pod1/cpuset.cpus"));
        Assert.Equal("0", tree.Read("cpuset/kubepods/pod1/cpuset.mems"));
        Assert.Equal("1-3", tree.Read("cpuset/kubepods/cpuset.cpus").Trim()); // not empty: left as it was
        // The container's own cpuset: what the config asks for first, the parent's only for what stays empty (runc).
        foreach (string dir in m.Directories.Where(d => !d.Contains("/cpuset/")))
            File.WriteAllText(Path.Combine(dir, "cgroup.procs"), "");
        File.WriteAllText(tree["devices/kubepods/pod1/c1/devices.deny"], "");
        File.WriteAllText(tree["devices/kubepods/pod1/c1/devices.allow"], "");
        m.Apply(new LinuxResources { Cpu = new LinuxCpu { Cpus = "2" } });
        m.AddProcess(4242);

        Assert.Equal("2", tree.Read("cpuset/kubepods/pod1/c1/cpuset.cpus"));
        Assert.Equal("0", tree.Read("cpuset/kubepods/pod1/c1/cpuset.mems"));
        Assert.Equal("4242", tree.Read("cpuset/kubepods/pod1/c1/cgroup.procs"));
    }

    [Fact]
    public void AnEmptyCpusetParentIsNamedWhenItCannotBeFilled()
    {
        using var tree = new LayoutTree(CgroupMode.V1);
        tree.Dir("cpuset", ("cpuset.cpus", "\n"), ("cpuset.mems", "0\n"));
        tree.Dir("cpuset/pod", ("cpuset.cpus", "\n"), ("cpuset.mems", "\n"));
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/pod/c1", tree.Fs);

        var e = Assert.Throws<CgroupException>(m.Create);

        Assert.Contains($"{tree["cpuset/pod/cpuset.cpus"]} is empty and so is its parent's {tree["cpuset/cpuset.cpus"]}", e.Message);
        Assert.False(Directory.Exists(tree["memory/pod"]));
    }

    [Fact]
    public void KernelMemoryLimitsAreIgnoredWithRuncsWarning_OnV1AndV2()
    {
        var warnings = new List<string>();
        var kernel = new LinuxResources { Memory = new LinuxMemory { Kernel = 33554432, KernelTCP = 16777216 }, Pids = new LinuxPids { Limit = 9 } };
        using var v1 = new V1Tree("devices/devices.allow", "devices/devices.deny", "pids/pids.max");
        v1.Manager.Apply(kernel, warnings.Add);
        v1.Manager.Update(kernel, warnings.Add);
        using var v2 = new V2Tree();
        v2.Manager.Update(kernel, warnings.Add);

        Assert.Equal("9", v1.Read("pids/pids.max"));
        Assert.Equal("9", v2.Read("pids.max"));
        Assert.Equal(3, warnings.Count);
        Assert.All(warnings, w => Assert.StartsWith("Kernel memory settings are ignored and will be removed", w));
    }

    [Fact]
    public void UnifiedOnAV1OrHybridHostIsRefusedAsRuncRefusesIt()
    {
        using var tree = new V1Tree("devices/devices.allow", "devices/devices.deny", "pids/pids.max", "unified/cgroup.max.depth");
        var unified = new LinuxResources { Pids = new LinuxPids { Limit = 9 }, Unified = new() { ["cgroup.max.depth"] = "3" } };

        var create = Assert.Throws<CgroupException>(() => tree.Manager.Apply(unified));
        var update = Assert.Throws<CgroupException>(() => tree.Manager.Update(unified));

        Assert.StartsWith("linux.resources.unified: invalid configuration: cannot use unified on cgroup v1", create.Message);
        Assert.Equal(create.Message, update.Message);
        Assert.Equal("", tree.Read("pids/pids.max"));
        Assert.Equal("", tree.Read("unified/cgroup.max.depth"));
        tree.Manager.Apply(new LinuxResources { Unified = [] }); // an empty map asks for nothing (runc's create agrees)
    }
}
