namespace Berth.Cgroups.Tests;

public class CgroupHostTests
{
    internal static CgroupHost ThisHost() => CgroupHost.Parse(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "hybrid-host.mountinfo")),
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "hybrid-host.cgroup")));

    internal const string CallerMemory = "/process_api/8cc215f77190b30ec5ef6f7bcb4b0ce9";

    internal const string PureV2Mountinfo = """
        22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        25 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        26 22 0:25 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:8 - bpf bpf rw,mode=700
        """;

    internal const string PureV2Cgroup = "0::/user.slice/user-1000.slice/session-2.scope\n";

    // A classic v1 host: cpu,cpuacct and net_cls,net_prio co-mounted (the usual systemd layout).
    internal const string PureV1Mountinfo = """
        24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        25 24 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
        28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
        29 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,net_cls,net_prio
        30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
        31 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,devices
        32 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset
        33 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
        """;

    internal const string PureV1Cgroup = """
        7:pids:/user.slice/user-1000.slice/session-1.scope
        6:cpuset:/
        5:devices:/user.slice
        4:memory:/user.slice/user-1000.slice/session-1.scope
        3:net_cls,net_prio:/
        2:cpu,cpuacct:/user.slice
        1:name=systemd:/user.slice/user-1000.slice/session-1.scope
        """;

    [Fact]
    public void ThisHostIsHybridWithEachControllerMountedAlone()
    {
        var host = ThisHost();
        Assert.Equal(CgroupMode.Hybrid, host.Mode);
        Assert.Equal(10, host.Hierarchies.Count);
        Assert.Equal(
            ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"],
            host.Hierarchies.Where(h => !h.IsV2 && h.Name is null).Select(h => Assert.Single(h.Controllers)));

        var memory = host.V1("memory")!;
        Assert.Equal("/sys/fs/cgroup/memory", memory.MountPoint);
        Assert.Equal(CallerMemory, memory.CallerCgroup);
        Assert.Equal("/sys/fs/cgroup/memory" + CallerMemory, memory.CallerDirectory);

        var systemd = host.V1("name=systemd")!;
        Assert.Equal("systemd", systemd.Name);
        Assert.Empty(systemd.Controllers);
        Assert.Equal("/sys/fs/cgroup/systemd", systemd.MountPoint);

        var unified = host.Hierarchies[^1];
        Assert.True(unified.IsV2);
        Assert.Same(unified, host.Unified);
        Assert.Equal("/sys/fs/cgroup/unified", unified.MountPoint);
        Assert.Equal("/", unified.CallerCgroup);
    }

    [Fact]
    public void PureV2HostHasOnlyTheUnifiedHierarchy()
    {
        var host = CgroupHost.Parse(PureV2Mountinfo, PureV2Cgroup);
        Assert.Equal(CgroupMode.V2, host.Mode);
        var only = Assert.Single(host.Hierarchies);
        Assert.True(only.IsV2);
        Assert.Equal("/sys/fs/cgroup", only.MountPoint);
        Assert.Equal("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope", only.CallerDirectory);
    }

    [Fact]
    public void PureV1HostKeepsCoMountedControllersTogether()
    {
        var host = CgroupHost.Parse(PureV1Mountinfo, PureV1Cgroup);
        Assert.Equal(CgroupMode.V1, host.Mode);
        Assert.Null(host.Unified);
        Assert.Equal(7, host.Hierarchies.Count);
        var cpu = host.V1("cpuacct")!;
        Assert.Same(cpu, host.V1("cpu"));
        Assert.Equal(["cpu", "cpuacct"], cpu.Controllers);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", cpu.MountPoint);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/user.slice", cpu.CallerDirectory);
        Assert.Equal("/sys/fs/cgroup/net_cls,net_prio", host.V1("net_prio")!.MountPoint);
        Assert.Equal("systemd", host.V1("name=systemd")!.Name);
    }

    [Fact]
    public void UnescapesMountPointsAndSkipsRepeatedMounts()
    {
        const string mountinfo = """
            30 22 0:31 / /cg\040root/memory rw - cgroup cgroup rw,memory
            31 22 0:31 / /elsewhere/memory rw - cgroup cgroup rw,memory
            32 22 0:32 / /cg\040root/devices rw - cgroup cgroup rw,devices
            """;
        var host = CgroupHost.Parse(mountinfo, "2:devices:/\n1:memory:/a\n");
        Assert.Equal(2, host.Hierarchies.Count);
        Assert.Equal("/cg root/memory", host.V1("memory")!.MountPoint);
        Assert.Equal("/cg root/memory/a", host.V1("memory")!.CallerDirectory);
    }

    [Fact]
    public void MountOfASubCgroupIsResolvedRelativeToItsRoot()
    {
        // e.g. inside a container whose memory cgroup /docker/abc is bind-mounted at /sys/fs/cgroup/memory
        const string mountinfo = "40 30 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
                                 "41 30 0:32 /docker/abc /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n";
        var host = CgroupHost.Parse(mountinfo, "2:devices:/docker/abc\n1:memory:/docker/abc/sub\n");
        Assert.Equal("/sys/fs/cgroup/memory/sub", host.V1("memory")!.CallerDirectory);
        Assert.Equal("/sys/fs/cgroup/devices", host.V1("devices")!.CallerDirectory);
    }

    [Fact]
    public void NoCgroupMountIsAnError()
    {
        var e = Assert.Throws<CgroupException>(() => CgroupHost.Parse("22 1 0:21 / /sys rw - sysfs sysfs rw\n", "0::/\n"));
        Assert.Contains("no cgroup hierarchy", e.Message);
    }

    [Fact]
    public void DetectReadsTheRealHost()
    {
        var host = CgroupHost.Detect();
        Assert.NotEmpty(host.Hierarchies);
        Assert.All(host.Hierarchies, h => Assert.StartsWith("/", h.MountPoint));
    }

    [Fact]
    public void AMountStackedOnTheUnifiedHierarchyHidesIt()
    {
        // What crun needs on this host: a tmpfs over /sys/fs/cgroup/unified in a private mount namespace.
        string mountinfo = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "hybrid-host.mountinfo"))
            + "900 40 0:99 / /sys/fs/cgroup/unified rw,relatime - tmpfs hide rw,size=64k\n";
        var host = CgroupHost.Parse(mountinfo, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "hybrid-host.cgroup")));
        Assert.Equal(CgroupMode.V1, host.Mode);
        Assert.DoesNotContain(host.Hierarchies, h => h.IsV2);
        Assert.Contains(host.Hierarchies, h => h.MountPoint == "/sys/fs/cgroup/memory");
    }

    [Fact]
    public void AMountOnAParentHidesEveryHierarchyBelowIt()
    {
        string mountinfo = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "hybrid-host.mountinfo"))
            + "900 40 0:99 / /sys/fs/cgroup rw,relatime - tmpfs hide rw\n";
        var e = Assert.Throws<CgroupException>(() =>
            CgroupHost.Parse(mountinfo, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "hybrid-host.cgroup"))));
        Assert.Contains("no cgroup hierarchy is mounted", e.Message);
    }
}
