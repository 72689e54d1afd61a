using System.Text.Json;
using Berth.Cgroups;

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
        byte[] json;
        try
        {
            json = File.ReadAllBytes(Path.Combine(bundle, "config.json"));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        return CgroupManager.ForContainer(Host.Value, id, CgroupsPathOf(json));
    }

    /// <summary>
    /// The spec's linux.cgroupsPath, read without building the spec: Docker's seccomp profile makes a container's spec
    /// some 19 KB, and deserializing all of it took ~2.4 ms of the monitor's exit path (docker run --rm's wait).
    /// </summary>
    /// <exception cref="JsonException">The spec is not JSON, or not an object.</exception>
    public static string? CgroupsPathOf(ReadOnlySpan<byte> spec)
    {
        var reader = new Utf8JsonReader(spec);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new JsonException("the spec is not a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool linux = reader.ValueTextEquals("linux"u8);
            reader.Read();
            if (!linux || reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool found = reader.ValueTextEquals("cgroupsPath"u8);
                reader.Read();
                if (found) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
            }
            return null;
        }
        return null;
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
