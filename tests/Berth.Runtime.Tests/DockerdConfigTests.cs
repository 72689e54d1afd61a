using Berth.Oci;
using Berth.Runtime.Configs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Tests;

/// <summary>A real config.json, as dockerd writes it, loads and converts: the drop-in case that matters most.</summary>
public class DockerdConfigTests
{
    private static ContainerConfig Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Resources", "dockerd-oci-config.json");
        var spec = SpecLoader.Parse(File.ReadAllText(path), path);
        Assert.Empty(SpecValidator.Validate(spec));
        return ConfigConverter.Convert(spec, "/run/containerd/io.containerd.runtime.v2.task/moby/c1");
    }

    [Fact]
    public void ConvertsNamespacesCapabilitiesAndSysctls()
    {
        var c = Load();
        Assert.Equal([NamespaceKind.Mount, NamespaceKind.Network, NamespaceKind.Uts, NamespaceKind.Pid, NamespaceKind.Ipc], c.Namespaces.Select(n => n.Kind));
        Assert.Equal(14, Capabilities.NamesOf(c.Process.Capabilities!.Bounding).Count());
        Assert.Equal("0", c.Sysctl["net.ipv4.ip_unprivileged_port_start"]);
        Assert.StartsWith("/docker/", c.CgroupsPath);
        Assert.StartsWith("/var/lib/peer-docker/overlay2/", c.Rootfs);
        Assert.Single(c.Hooks!.Prestart!);
        Assert.NotEmpty(c.Seccomp!.Syscalls!);
    }

    [Fact]
    public void ConvertsVolumeAndEtcBindMounts()
    {
        var c = Load();
        var resolv = c.Mounts.Single(m => m.Destination == "/etc/resolv.conf");
        Assert.Equal("bind", resolv.Type);
        Assert.Equal(MS_BIND | MS_REC, resolv.Flags);
        Assert.Equal([MS_PRIVATE | MS_REC], resolv.Propagation);
        Assert.EndsWith("/resolv.conf", resolv.Source);

        var shm = c.Mounts.Single(m => m.Destination == "/dev/shm");
        Assert.Equal("mode=1777,size=67108864", shm.Data);
        Assert.Equal(MS_NOSUID | MS_NOEXEC | MS_NODEV, shm.Flags);
        Assert.Equal(11, c.Mounts.Count);
    }
}
