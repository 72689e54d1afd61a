using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Api;

namespace Berth.Daemon.Containers;

/// <summary>
/// A container's sandbox and endpoint as dockerd reports them in NetworkSettings, kept in its record: set at each
/// start; the endpoint goes at the exit, the sandbox (and the network's id) stay until the next start, as dockerd's.
/// </summary>
public sealed class ContainerNetworkState
{
    public string SandboxID { get; set; } = "";
    /// <summary>The container's network namespace while it runs (/proc/&lt;pid&gt;/ns/net); a stale path afterwards, as dockerd's.</summary>
    public string SandboxKey { get; set; } = "";
    public string NetworkID { get; set; } = "";
    public string EndpointID { get; set; } = "";
}

/// <summary>
/// The networks a container is on, in dockerd's shape with <c>--bridge none</c>: NetworkMode none and host are on the
/// predefined networks "none" and "host" (with their ids; an endpoint while it runs), the default and "bridge" on
/// "bridge", which has no network behind it (no ids at all), and container:&lt;x&gt; on none of its own.
/// </summary>
public static class ContainerNetworks
{
    /// <summary>The network NetworkMode puts the container on, by its name; null for another container's network.</summary>
    public static string? NameOf(string networkMode) => networkMode switch
    {
        "" or "default" or "bridge" => "bridge",
        "none" or "host" => networkMode,
        _ => null,
    };

    /// <summary>A start: a new sandbox and, on a predefined network, a new endpoint on it.</summary>
    public static void Started(ContainerRecordFile record, int pid, PredefinedNetworks networks)
    {
        string? network = NameOf(record.HostConfig.NetworkMode);
        if (network is null)
        {
            record.Network = null;
            return;
        }
        string? networkId = networks.IdOf(network);
        record.Network = new ContainerNetworkState
        {
            SandboxID = ContainerNames.NewId(),
            SandboxKey = $"/proc/{pid}/ns/net",
            NetworkID = networkId ?? "",
            EndpointID = networkId is null ? "" : ContainerNames.NewId(),
        };
    }

    /// <summary>An exit: the endpoint is gone, the rest stays.</summary>
    public static void Exited(ContainerRecordFile record)
    {
        if (record.Network is { } state) state.EndpointID = "";
    }

    /// <summary>Inspect's NetworkSettings.</summary>
    public static NetworkSettings Settings(ContainerRecordFile record) => new()
    {
        SandboxID = record.Network?.SandboxID ?? "",
        SandboxKey = record.Network?.SandboxKey ?? "",
        Networks = Endpoints(record).ToDictionary(e => e.Key, e => e.Value),
    };

    /// <summary>The list's NetworkSettings.Networks.</summary>
    public static Dictionary<string, EndpointSettings?> Summary(ContainerRecordFile record) =>
        Endpoints(record).ToDictionary(e => e.Key, e => (EndpointSettings?)e.Value);

    /// <summary>The ps filter's view: each network's name and id.</summary>
    public static Dictionary<string, string> Ids(ContainerRecordFile record) => Endpoints(record).ToDictionary(e => e.Key, e => e.Value.NetworkID);

    static IEnumerable<KeyValuePair<string, EndpointSettings>> Endpoints(ContainerRecordFile record)
    {
        if (NameOf(record.HostConfig.NetworkMode) is not { } network) yield break;
        yield return new(network, new EndpointSettings
        {
            NetworkID = record.Network?.NetworkID ?? "",
            EndpointID = record.Network?.EndpointID ?? "",
        });
    }
}

/// <summary>
/// The ids of dockerd's predefined networks, "none" and "host", made once per data root (64 hex digits, as dockerd's)
/// and kept in <c>&lt;data-root&gt;/networks.json</c>. "bridge" has none: berthd runs as dockerd with --bridge none.
/// </summary>
public sealed class PredefinedNetworks
{
    readonly Dictionary<string, string> _ids;

    PredefinedNetworks(Dictionary<string, string> ids) => _ids = ids;

    public string? IdOf(string network) => _ids.GetValueOrDefault(network);

    /// <summary>The data root's ids, made and written (atomically) when it has none yet.</summary>
    /// <exception cref="IOException">networks.json cannot be read or written.</exception>
    public static PredefinedNetworks Load(string dataRoot)
    {
        string path = Path.Combine(dataRoot, "networks.json");
        Dictionary<string, string>? ids = null;
        if (File.Exists(path))
        {
            try
            {
                ids = JsonSerializer.Deserialize(File.ReadAllBytes(path), PredefinedNetworksJson.Default.DictionaryStringString);
            }
            catch (JsonException e)
            {
                throw new IOException($"{path} is not the JSON of the predefined networks' ids: {e.Message}", e);
            }
        }
        ids ??= [];
        if (ids.ContainsKey("none") && ids.ContainsKey("host")) return new PredefinedNetworks(ids);
        ids.TryAdd("none", ContainerNames.NewId());
        ids.TryAdd("host", ContainerNames.NewId());
        Directory.CreateDirectory(dataRoot);
        ExecDrivers.AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(ids, PredefinedNetworksJson.Default.DictionaryStringString));
        return new PredefinedNetworks(ids);
    }
}

[JsonSerializable(typeof(Dictionary<string, string>))]
sealed partial class PredefinedNetworksJson : JsonSerializerContext;
