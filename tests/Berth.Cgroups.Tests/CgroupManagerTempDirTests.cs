using System.Text.Json;
using Berth.Oci;

namespace Berth.Cgroups.Tests;

public class CgroupManagerTempDirTests
{
    static readonly string[] Mounts = ["devices", "memory", "memory/parent", "plain", "unified"];

    [Fact]
    public void CreateMakesEveryDirectoryAndDestroyRemovesOnlyThose()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/berth/c1", tree.Fs);
        m.Create();
        Assert.Equal(
            ["devices", "devices/berth", "devices/berth/c1", "memory", "memory/berth", "memory/berth/c1", "memory/parent",
             "plain", "unified", "unified/berth", "unified/berth/c1"],
            tree.AllDirectories());
        Assert.Equal(6, m.CreatedDirectories.Count);

        m.Destroy();
        Assert.Equal(Mounts, tree.AllDirectories());
        Assert.Empty(m.CreatedDirectories);
    }

    [Fact]
    public void MissingDirectoriesAreWhatCreateMakesParentsFirst()
    {
        using var tree = new TempCgroupTree();
        Directory.CreateDirectory(tree["memory/berth"]);
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/berth/c1", tree.Fs);
        var missing = m.MissingDirectories().ToList();
        Assert.Equal([tree["devices/berth"], tree["devices/berth/c1"], tree["memory/berth/c1"], tree["unified/berth"], tree["unified/berth/c1"]],
            missing.Order(StringComparer.Ordinal));
        foreach (string dir in missing.Where(d => missing.Contains(Path.GetDirectoryName(d)!)))
            Assert.True(missing.IndexOf(Path.GetDirectoryName(dir)!) < missing.IndexOf(dir), $"{dir} listed before its parent");
        m.Create();
        Assert.Equal(missing, m.CreatedDirectories);
        Assert.Empty(m.MissingDirectories());
        m.Destroy();
        Assert.True(Directory.Exists(tree["memory/berth"]));
    }

    [Fact]
    public void DefaultPathNestsBelowTheCallersCgroupPerHierarchy()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", null, tree.Fs);
        m.Create();
        Assert.True(Directory.Exists(tree["memory/parent/c1"]));
        Assert.True(Directory.Exists(tree["devices/c1"]));
        Assert.True(Directory.Exists(tree["unified/c1"]));
        m.Destroy();
        Assert.Equal(Mounts, tree.AllDirectories());
    }

    [Fact]
    public void ParentStillUsedByAnotherContainerIsKept()
    {
        using var tree = new TempCgroupTree();
        var c1 = CgroupManager.ForContainer(tree.Host, "c1", "/berth/c1", tree.Fs);
        var c2 = CgroupManager.ForContainer(tree.Host, "c2", "/berth/c2", tree.Fs);
        c1.Create();
        c2.Create();
        Assert.Equal(3, c2.CreatedDirectories.Count); // only its leaves: /berth was there already

        c1.Destroy();
        Assert.True(Directory.Exists(tree["memory/berth/c2"]));
        Assert.False(Directory.Exists(tree["memory/berth/c1"]));
        Assert.Contains("memory/berth", tree.AllDirectories());
        c2.Destroy();
        Assert.False(Directory.Exists(tree["memory/berth/c2"]));
    }

    [Fact]
    public void FailedCreateRemovesWhatItMadeAndNamesThePath()
    {
        using var tree = new TempCgroupTree(withUnmountedHierarchy: true);
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/berth/c1", tree.Fs);
        var e = Assert.Throws<CgroupException>(m.Create);
        Assert.Contains($"cannot create {tree["plain/berth"]}: its parent {tree["plain"]} is not on a cgroup filesystem", e.Message);
        Assert.Equal(Mounts, tree.AllDirectories()); // memory and devices dirs were made, then removed again
        Assert.Empty(m.CreatedDirectories);
    }

    [Fact]
    public void NestedCgroupsAreRemovedBottomUp()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs);
        m.Create();
        Directory.CreateDirectory(tree["unified/c1/sub/subsub"]);
        Directory.CreateDirectory(tree["memory/c1/other"]);
        m.Destroy();
        Assert.Equal(Mounts, tree.AllDirectories());
    }

    [Fact]
    public void DestroyLeavesANonCgroupDirectoryAloneAndReportsIt()
    {
        using var tree = new TempCgroupTree();
        Directory.CreateDirectory(tree["plain/c1"]);
        Directory.CreateDirectory(tree["memory/c1"]);
        var m = CgroupManager.Load(new Dictionary<string, string> { ["pids"] = tree["plain/c1"], ["memory"] = tree["memory/c1"] },
            fs: tree.Fs);
        var e = Assert.Throws<CgroupException>(m.Destroy);
        Assert.Contains($"{tree["plain/c1"]} (not on a cgroup filesystem, left alone)", e.Message);
        Assert.True(Directory.Exists(tree["plain/c1"]));
        Assert.False(Directory.Exists(tree["memory/c1"])); // the other one was still removed
    }

    [Fact]
    public void DestroyOfMissingDirectoriesIsFine()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "never-created", null, tree.Fs);
        m.Destroy();
        Assert.Equal(Mounts, tree.AllDirectories());
    }

    [Fact]
    public void SavedStateRoundTripsThroughJsonAndStillRemovesCreatedParents()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/a/b/c1", tree.Fs);
        m.Create();
        string paths = JsonSerializer.Serialize(m.Paths);
        string created = JsonSerializer.Serialize(m.CreatedDirectories);

        var loaded = CgroupManager.Load(JsonSerializer.Deserialize<Dictionary<string, string>>(paths)!,
            JsonSerializer.Deserialize<List<string>>(created), tree.Fs);
        Assert.Equal(m.Paths, loaded.Paths);
        Assert.Equal(CgroupMode.Hybrid, loaded.Mode);
        loaded.Destroy();
        Assert.Equal(Mounts, tree.AllDirectories());
    }

    [Fact]
    public void PidsPreferTheUnifiedDirectoryAndIncludeNestedCgroups()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs);
        m.Create();
        Directory.CreateDirectory(tree["unified/c1/sub"]);
        File.WriteAllText(tree["unified/c1/cgroup.procs"], "12\n7\n");
        File.WriteAllText(tree["unified/c1/sub/cgroup.procs"], "99\n");
        File.WriteAllText(tree["memory/c1/cgroup.procs"], "5\n");
        Assert.Equal([7, 12, 99], m.Pids());
    }

    [Fact]
    public void AddProcessWritesThePidToEveryDirectory()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs);
        m.Create();
        foreach (string dir in m.Directories)
            File.WriteAllText(Path.Combine(dir, "cgroup.procs"), "");
        m.AddProcess(4242);
        Assert.All(m.Directories, dir => Assert.Equal("4242", File.ReadAllText(Path.Combine(dir, "cgroup.procs"))));
    }

    [Fact]
    public void AddProcessNamesTheFileThatCannotBeWritten()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs);
        m.Create();
        var e = Assert.Throws<CgroupException>(() => m.AddProcess(4242));
        Assert.Contains($"open {tree["memory/c1/cgroup.procs"]} to write \"4242\"", e.Message);
    }

    [Fact]
    public void ApplyDeniesAllDevicesOnV1AndRefusesAMissingControllerBeforeWriting()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs);
        m.Create();
        File.WriteAllText(tree["devices/c1/devices.deny"], "");
        File.WriteAllText(tree["devices/c1/devices.allow"], "");

        var e = Assert.Throws<CgroupException>(() => m.Apply(new LinuxResources
        {
            Devices = [new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" }],
            Pids = new LinuxPids { Limit = 64 },
        }));
        Assert.Equal("linux.resources.pids.limit: the pids cgroup controller is not mounted on this host (no cgroup v1 hierarchy carries it)", e.Message);
        Assert.Equal("", File.ReadAllText(tree["devices/c1/devices.deny"]));
        Assert.Equal("", File.ReadAllText(tree["devices/c1/devices.allow"]));

        m.Apply(new LinuxResources { Devices = [new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 3 }] });
        Assert.Equal("a", File.ReadAllText(tree["devices/c1/devices.deny"]));
        Assert.Equal("c 1:3 rwm", File.ReadAllText(tree["devices/c1/devices.allow"]));
    }
}
