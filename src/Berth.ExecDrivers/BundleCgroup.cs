using System.Text.Json;
using Berth.Cgroups;
using Berth.Oci;

namespace Berth.ExecDrivers;

/// <summary>
/// A container's cgroup found from its bundle: where the spec's linux.cgroupsPath places it in this host's
/// hierarchies, as the runtime (in-process or runc) placed it. For berthd's stats and top, and for the monitor, which
/// reads the OOM killer's count there before the delete removes the cgroup.
/// </summary>
public static class BundleCgroup
{
    static readonly Lazy<CgroupHost> Host = new(CgroupHost.Detect);

    /// <summary>The container's cgroup, or null when the bundle's config.json is gone (it is not running).</summary>
    /// <exception cref="CgroupException">The spec's cgroupsPath is not one the runtime would accept.</exception>
    public static CgroupManager? Of(string bundle, string id)
    {
        Spec? spec;
        try
        {
            spec = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(bundle, "config.json")), OciJsonContext.Default.Spec);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        return CgroupManager.ForContainer(Host.Value, id, spec?.Linux?.CgroupsPath);
    }

    /// <summary>
    /// Whether the OOM killer ended a process of the container (its cgroup's oom_kill count: memory.oom_control on
    /// v1 and hybrid hosts, memory.events on v2), read while the cgroup still exists. False when it cannot tell.
    /// </summary>
    public static bool OomKilled(string bundle, string id)
    {
        try
        {
            return Of(bundle, id) is { } cgroup && LimitEvents.OomKills(cgroup.Paths) > 0;
        }
        catch (Exception e) when (e is CgroupException or IOException or UnauthorizedAccessException or JsonException)
        {
            return false;
        }
    }
}
