namespace Berth.Cgroups.Tests;

public class CgroupPathTests
{
    static CgroupManager For(string? cgroupsPath, CgroupHost? host = null) =>
        CgroupManager.ForContainer(host ?? CgroupHostTests.ThisHost(), "c1", cgroupsPath);

    [Fact]
    public void DefaultIsTheIdRelativeToTheCallersCgroupInEachHierarchy()
    {
        var m = For(null);
        Assert.Equal(CgroupMode.Hybrid, m.Mode);
        Assert.Equal("/sys/fs/cgroup/memory" + CgroupHostTests.CallerMemory + "/c1", m.Paths["memory"]);
        Assert.Equal("/sys/fs/cgroup/cpu/c1", m.Paths["cpu"]);
        Assert.Equal("/sys/fs/cgroup/devices/c1", m.Paths["devices"]);
        Assert.Equal("/sys/fs/cgroup/systemd/c1", m.Paths["name=systemd"]);
        Assert.Equal("/sys/fs/cgroup/unified/c1", m.Paths[CgroupManager.HybridUnifiedKey]);
        Assert.Equal(10, m.Paths.Count);
        Assert.Equal(For("").Paths, m.Paths);
    }

    [Fact]
    public void AbsolutePathIsBelowEachMountPoint()
    {
        var m = For("/berth/c1");
        Assert.Equal("/sys/fs/cgroup/memory/berth/c1", m.Paths["memory"]);
        Assert.Equal("/sys/fs/cgroup/unified/berth/c1", m.Paths["unified"]);
        Assert.Equal("/sys/fs/cgroup/pids/berth/c1", For("//berth/./c1/").Paths["pids"]);
    }

    [Fact]
    public void RelativePathIsBelowTheCallersCgroup()
    {
        var m = For("berth/c1");
        Assert.Equal("/sys/fs/cgroup/memory" + CgroupHostTests.CallerMemory + "/berth/c1", m.Paths["memory"]);
        Assert.Equal("/sys/fs/cgroup/freezer/berth/c1", m.Paths["freezer"]);
    }

    [Fact]
    public void PureV2UsesTheEmptyKeyOnly()
    {
        var m = For("/berth/c1", CgroupHost.Parse(CgroupHostTests.PureV2Mountinfo, CgroupHostTests.PureV2Cgroup));
        Assert.Equal(CgroupMode.V2, m.Mode);
        var (key, dir) = Assert.Single(m.Paths);
        Assert.Equal(CgroupManager.V2Key, key);
        Assert.Equal("/sys/fs/cgroup/berth/c1", dir);
        Assert.Equal("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/c1",
            For(null, CgroupHost.Parse(CgroupHostTests.PureV2Mountinfo, CgroupHostTests.PureV2Cgroup)).Paths[""]);
    }

    [Fact]
    public void PureV1CoMountedControllersShareOneDirectory()
    {
        var m = For(null, CgroupHost.Parse(CgroupHostTests.PureV1Mountinfo, CgroupHostTests.PureV1Cgroup));
        Assert.Equal(CgroupMode.V1, m.Mode);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/user.slice/c1", m.Paths["cpu"]);
        Assert.Equal(m.Paths["cpu"], m.Paths["cpuacct"]);
        Assert.Equal(m.Paths["net_cls"], m.Paths["net_prio"]);
        Assert.Equal(9, m.Paths.Count);
        Assert.Equal(7, m.Directories.Count);
        Assert.DoesNotContain(m.Paths.Keys, k => k is "" or "unified");
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/berth/../../etc")]
    [InlineData("a/..")]
    public void DotDotIsRefused(string path)
    {
        var e = Assert.Throws<CgroupException>(() => For(path));
        Assert.Contains("\"..\" is not allowed", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void SystemdSlicePathIsRefusedClearly()
    {
        var e = Assert.Throws<CgroupException>(() => For("system.slice:docker:c1"));
        Assert.Contains("systemd", e.Message);
        Assert.Contains("system.slice:docker:c1", e.Message);
    }

    [Theory]
    [InlineData("/")]
    [InlineData(".")]
    [InlineData("a\nb")]
    public void RootAndControlCharactersAreRefused(string path) =>
        Assert.Throws<CgroupException>(() => For(path));

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    public void BadIdIsRefusedForTheDefaultPath(string id) =>
        Assert.Throws<CgroupException>(() => CgroupManager.ForContainer(CgroupHostTests.ThisHost(), id, null));

    [Fact]
    public void V1HostWithoutDevicesIsRefused()
    {
        var host = CgroupHost.Parse("30 22 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", "1:memory:/\n");
        var e = Assert.Throws<CgroupException>(() => CgroupManager.ForContainer(host, "c1", null));
        Assert.Contains("devices", e.Message);
    }

    [Fact]
    public void LoadInfersTheModeAndRefusesRelativePaths()
    {
        Assert.Equal(CgroupMode.Hybrid, CgroupManager.Load(For(null).Paths).Mode);
        Assert.Equal(CgroupMode.V2, CgroupManager.Load(new Dictionary<string, string> { [""] = "/sys/fs/cgroup/x" }).Mode);
        Assert.Equal(CgroupMode.V1, CgroupManager.Load(new Dictionary<string, string> { ["devices"] = "/sys/fs/cgroup/devices/x" }).Mode);
        Assert.Throws<CgroupException>(() => CgroupManager.Load(new Dictionary<string, string> { ["memory"] = "memory/x" }));
        Assert.Throws<CgroupException>(() => CgroupManager.Load(new Dictionary<string, string> { ["memory"] = "/a/../b" }));
        var e = Assert.Throws<CgroupException>(() => CgroupManager.Load(
            new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory/berth/c1" }, ["/sys/fs/cgroup/memory/other"]));
        Assert.Contains("/sys/fs/cgroup/memory/other", e.Message);
        Assert.Equal(["/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/memory/berth/c1"], CgroupManager.Load(
            new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory/berth/c1" },
            ["/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/memory/berth/c1"]).CreatedDirectories);
    }
}
