using Berth.Cgroups;
using Berth.ExecDrivers;

namespace Berth.Daemon.Containers;

/// <summary>
/// A running container's cgroup, for stats and top: placed where its spec's linux.cgroupsPath says (Populate writes
/// <c>/berth/&lt;id&gt;</c> unless HostConfig.CgroupParent names another parent), in this host's hierarchies, as the
/// runtime placed it. The spec is the bundle's config.json, which exists while the container runs.
/// </summary>
public static class ContainerCgroup
{
    /// <summary>The container's cgroup, or null when its bundle is gone (it is not running).</summary>
    /// <exception cref="CgroupException">The spec's cgroupsPath is not one the runtime would accept.</exception>
    public static CgroupManager? Of(string execRoot, string id) => BundleCgroup.Of(Path.Combine(execRoot, "containers", id, "bundle"), id);

    /// <summary>The host's memory, the limit docker stats shows for a container without a smaller one.</summary>
    public static ulong MachineMemory { get; } = HostCpu.MachineMemory(File.ReadAllText("/proc/meminfo"));
}
