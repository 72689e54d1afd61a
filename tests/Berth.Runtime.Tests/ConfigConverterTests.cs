using Berth.Oci;
using Berth.Runtime.Configs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Tests;

public class ConfigConverterTests
{
    private const string Bundle = "/run/bundles/c1";

    private static ContainerConfig Convert(Action<Spec>? change = null, bool rootless = false)
    {
        var spec = DefaultSpec.Create(rootless, hostUid: 1000, hostGid: 1001);
        change?.Invoke(spec);
        return ConfigConverter.Convert(spec, Bundle);
    }

    [Fact]
    public void RelativeRootfsIsResolvedAgainstBundle()
    {
        var c = Convert();
        Assert.Equal("/run/bundles/c1/rootfs", c.Rootfs);
        Assert.True(c.ReadonlyRootfs);
        Assert.Equal("/run/bundles/c1", c.Bundle);
        Assert.Equal("/run/bundles/other/rootfs", Convert(s => s.Root!.Path = "../other/./rootfs").Rootfs);
        Assert.Equal("/srv/root", Convert(s => s.Root!.Path = "/srv/root").Rootfs);
    }

    [Fact]
    public void RelativeBundleDirIsMadeAbsolute()
    {
        var c = ConfigConverter.Convert(DefaultSpec.Create(false), "relative-bundle");
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "relative-bundle", "rootfs"), c.Rootfs);
    }

    [Fact]
    public void NamespacesKeepOrderAndPaths()
    {
        var c = Convert(s => s.Linux!.Namespaces![1].Path = "/proc/77/ns/net");
        Assert.Equal([NamespaceKind.Pid, NamespaceKind.Network, NamespaceKind.Ipc, NamespaceKind.Uts, NamespaceKind.Mount], c.Namespaces.Select(n => n.Kind));
        Assert.Equal("/proc/77/ns/net", c.Get(NamespaceKind.Network)!.Path);
        Assert.Null(c.Get(NamespaceKind.Pid)!.Path);
        Assert.False(c.Has(NamespaceKind.User));
    }

    [Fact]
    public void EveryNamespaceTypeMaps()
    {
        var c = Convert(s => s.Linux!.Namespaces = [.. new[] { "pid", "network", "mount", "ipc", "uts", "cgroup", "time" }.Select(t => new LinuxNamespace { Type = t })]);
        Assert.Equal([NamespaceKind.Pid, NamespaceKind.Network, NamespaceKind.Mount, NamespaceKind.Ipc, NamespaceKind.Uts, NamespaceKind.Cgroup, NamespaceKind.Time],
            c.Namespaces.Select(n => n.Kind));
        Assert.Equal(0x20000000 | 0x40000000 | 0x00020000 | 0x08000000 | 0x04000000 | 0x02000000 | 0x80,
            c.Namespaces.Aggregate(0, (flags, n) => flags | n.CloneFlag));
    }

    [Fact]
    public void EmptyNamespacePathMeansCreate() =>
        Assert.Null(Convert(s => s.Linux!.Namespaces![0].Path = "").Namespaces[0].Path);

    [Fact]
    public void IdMappings()
    {
        var c = Convert(s => s.Linux!.UidMappings!.Add(new LinuxIdMapping { ContainerId = 1, HostId = 100000, Size = 65535 }), rootless: true);
        Assert.True(c.Has(NamespaceKind.User));
        Assert.Equal([new IdMap(0, 1000, 1), new IdMap(1, 100000, 65535)], c.UidMappings);
        Assert.Equal([new IdMap(0, 1001, 1)], c.GidMappings);
    }

    [Fact]
    public void TimeOffsets()
    {
        var c = Convert(s =>
        {
            s.Linux!.Namespaces!.Add(new LinuxNamespace { Type = "time" });
            s.Linux.TimeOffsets = new() { ["monotonic"] = new() { Secs = -5, Nanosecs = 7 }, ["boottime"] = new() { Secs = 86400 } };
        });
        Assert.Equal(new TimeOffset(-5, 7), c.TimeOffsets["monotonic"]);
        Assert.Equal(new TimeOffset(86400, 0), c.TimeOffsets["boottime"]);
    }

    [Fact]
    public void DefaultMountsConvert()
    {
        var c = Convert();
        var dev = c.Mounts.Single(m => m.Destination == "/dev");
        Assert.Equal("tmpfs", dev.Type);
        Assert.Equal("tmpfs", dev.Source);
        Assert.Equal(MS_NOSUID | MS_STRICTATIME, dev.Flags);
        Assert.Equal("mode=755,size=65536k", dev.Data);
        Assert.False(dev.IsBind);

        var cgroup = c.Mounts.Single(m => m.Destination == "/sys/fs/cgroup");
        Assert.Equal(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY, cgroup.Flags);

        var pts = c.Mounts.Single(m => m.Destination == "/dev/pts");
        Assert.Equal("newinstance,ptmxmode=0666,mode=0620,gid=5", pts.Data);
        Assert.Equal(7, c.Mounts.Count);
    }

    [Fact]
    public void RootlessSysIsRecursiveBind()
    {
        var sys = Convert(rootless: true).Mounts.Single(m => m.Destination == "/sys");
        Assert.Equal("bind", sys.Type);
        Assert.True(sys.IsBind);
        Assert.True(sys.Recursive);
        Assert.Equal("/sys", sys.Source);
        Assert.Equal(MS_BIND | MS_REC | MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, sys.Flags);
    }

    [Fact]
    public void BindMountsResolveRelativeSourceAgainstBundle()
    {
        var c = Convert(s =>
        {
            s.Mounts!.Add(new Mount { Destination = "/data", Type = "none", Source = "volumes/data", Options = ["rbind", "ro", "rprivate"] });
            s.Mounts.Add(new Mount { Destination = "/etc/hosts", Type = "bind", Source = "/var/lib/hosts" });
        });
        var data = c.Mounts.Single(m => m.Destination == "/data");
        Assert.Equal("bind", data.Type);
        Assert.Equal("/run/bundles/c1/volumes/data", data.Source);
        Assert.Equal(MS_BIND | MS_REC | MS_RDONLY, data.Flags);
        Assert.Equal([MS_PRIVATE | MS_REC], data.Propagation);

        // type "bind" alone is a bind mount, not recursive.
        var hosts = c.Mounts.Single(m => m.Destination == "/etc/hosts");
        Assert.True(hosts.IsBind);
        Assert.False(hosts.Recursive);
        Assert.Equal("/var/lib/hosts", hosts.Source);
    }

    [Fact]
    public void NonBindRelativeSourceIsLeftAlone() =>
        Assert.Equal("proc", Convert().Mounts.Single(m => m.Destination == "/proc").Source);

    [Fact]
    public void RelativeDestinationIsRelativeToRoot() =>
        Assert.Equal("/proc", Convert(s => s.Mounts![0].Destination = "proc").Mounts[0].Destination);

    [Fact]
    public void RootfsPropagation()
    {
        Assert.Equal(MS_SLAVE | MS_REC, Convert().RootfsPropagation);
        Assert.Equal(MS_PRIVATE | MS_REC, Convert(s => s.Linux!.RootfsPropagation = "rprivate").RootfsPropagation);
        Assert.Equal(MS_SHARED, Convert(s => s.Linux!.RootfsPropagation = "shared").RootfsPropagation);
        Assert.Equal(MS_UNBINDABLE | MS_REC, Convert(s => s.Linux!.RootfsPropagation = "runbindable").RootfsPropagation);
    }

    [Fact]
    public void DefaultDevicesAreAlwaysThere()
    {
        var c = Convert();
        Assert.Equal(["/dev/null", "/dev/random", "/dev/full", "/dev/tty", "/dev/zero", "/dev/urandom"], c.Devices.Select(d => d.Path));
        Assert.Equal(new DeviceConfig("/dev/null", 'c', 1, 3, 0x1B6, 0, 0), c.Devices[0]);
    }

    [Fact]
    public void SpecDevicesOverrideDefaultsAndGetRuncDefaults()
    {
        var c = Convert(s => s.Linux!.Devices =
        [
            new LinuxDevice { Path = "/dev/null", Type = "c", Major = 1, Minor = 3, FileMode = 0x2000 | 0x180 /* S_IFCHR | 0600 */, Uid = 5, Gid = 6 },
            new LinuxDevice { Path = "/dev/fuse", Type = "u", Major = 10, Minor = 229 },
            new LinuxDevice { Path = "/dev/sda", Type = "b", Major = 8, Minor = 0 },
            new LinuxDevice { Path = "/dev/fifo", Type = "p" },
        ]);
        Assert.Single(c.Devices, d => d.Path == "/dev/null");
        Assert.Equal(new DeviceConfig("/dev/null", 'c', 1, 3, 0x180, 5, 6), c.Devices.Single(d => d.Path == "/dev/null"));
        Assert.Equal(new DeviceConfig("/dev/fuse", 'c', 10, 229, 0x1B6, 0, 0), c.Devices.Single(d => d.Path == "/dev/fuse"));
        Assert.Equal('b', c.Devices.Single(d => d.Path == "/dev/sda").Type);
        Assert.Equal('p', c.Devices.Single(d => d.Path == "/dev/fifo").Type);
        Assert.Equal(9, c.Devices.Count);
    }

    [Fact]
    public void ProcessConverts()
    {
        var c = Convert(s =>
        {
            s.Process!.User = new User { Uid = 1000, Gid = 100, Umask = 0x12, AdditionalGids = [10, 20] };
            s.Process.Rlimits!.Add(new PosixRlimit { Type = "RLIMIT_NPROC", Soft = 100, Hard = 200 });
            s.Process.OomScoreAdj = 500;
            s.Process.Capabilities!.Inheritable = ["CAP_CHOWN"];
        });
        var p = c.Process;
        Assert.Equal(["sh"], p.Args);
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], p.Env);
        Assert.Equal("/", p.Cwd);
        Assert.Equal((1000u, 100u, 0x12u), (p.Uid, p.Gid, p.Umask!.Value));
        Assert.Equal([10u, 20u], p.AdditionalGids);
        Assert.Equal([new RlimitConfig("RLIMIT_NOFILE", 7, 1024, 1024), new RlimitConfig("RLIMIT_NPROC", 6, 100, 200)], p.Rlimits);
        Assert.Equal(new CapabilitySet(0x20000420, 0x20000420, 1, 0x20000420, 0x20000420), p.Capabilities);
        Assert.True(p.NoNewPrivileges);
        Assert.True(p.Terminal);
        Assert.Equal(500, p.OomScoreAdj);
    }

    [Fact]
    public void NoCapabilitiesSectionMeansNull() =>
        Assert.Null(Convert(s => s.Process!.Capabilities = null).Process.Capabilities);

    [Fact]
    public void PassThroughFields()
    {
        var resources = new LinuxResources { Pids = new LinuxPids { Limit = 64 } };
        var c = Convert(s =>
        {
            s.Linux!.Sysctl = new() { ["net.ipv4.ip_forward"] = "1" };
            s.Linux.CgroupsPath = "/berth/c1";
            s.Linux.Resources = resources;
            s.Annotations = new() { ["org.example/key"] = "v" };
            s.Domainname = "example.org";
            s.Linux.MaskedPaths = ["/proc/kcore"];
            s.Linux.ReadonlyPaths = ["/proc/sys"];
        });
        Assert.Equal("1", c.Sysctl["net.ipv4.ip_forward"]);
        Assert.Equal("/berth/c1", c.CgroupsPath);
        Assert.Same(resources.Pids, c.Resources!.Spec.Pids);
        Assert.Equal("v", c.Annotations["org.example/key"]);
        Assert.Equal("berth", c.Hostname);
        Assert.Equal("example.org", c.Domainname);
        Assert.Equal(["/proc/kcore"], c.MaskedPaths);
        Assert.Equal(["/proc/sys"], c.ReadonlyPaths);
    }

    [Fact]
    public void InvalidSpecIsRefusedWithPathAndFile()
    {
        var spec = DefaultSpec.Create(false);
        spec.Linux!.Namespaces![0].Type = "pidns";
        var e = Assert.Throws<SpecException>(() => ConfigConverter.Convert(spec, Bundle));
        Assert.Contains("/run/bundles/c1/config.json", e.Message);
        Assert.Contains("$.linux.namespaces[0].type", e.Message);
        Assert.Equal("$.linux.namespaces[0].type", Assert.Single(e.Errors).Path);
    }

    [Fact]
    public void UnsupportedMountOptionIsRefusedBeforeConversion()
    {
        var spec = DefaultSpec.Create(false);
        spec.Mounts!.Add(new Mount { Destination = "/data", Source = "/srv", Options = ["rbind", "idmap"] });
        var e = Assert.Throws<SpecException>(() => ConfigConverter.Convert(spec, Bundle));
        Assert.Contains("$.mounts[7].options[1]", e.Message);
    }
    [Fact]
    public void Seccomp_IsCompiled_WhenTheSpecHasAProfile()
    {
        Assert.Null(Convert().SeccompFilter);
        var c = Convert(s => s.Linux!.Seccomp = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = [new LinuxSyscall { Names = ["mkdir"], Action = "SCMP_ACT_ERRNO" }],
        });
        Assert.NotNull(c.SeccompFilter);
        Assert.Contains(c.SeccompFilter.Program, f => f.K == 0x00050001); // ERRNO(EPERM) for mkdir
    }

    [Fact]
    public void Seccomp_BadProfile_IsASpecError_WithItsJsonPath()
    {
        var e = Assert.Throws<SpecException>(() => Convert(s => s.Linux!.Seccomp = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = [new LinuxSyscall { Names = ["mkdir"], Action = "SCMP_ACT_BOGUS" }],
        }));
        Assert.Contains("config.json: invalid seccomp profile: $.linux.seccomp.syscalls[0].action: unknown seccomp action \"SCMP_ACT_BOGUS\"", e.Message);
        Assert.Equal("$.linux.seccomp.syscalls[0].action", Assert.Single(e.Errors).Path);
    }
}
