using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Api;
using Berth.Daemon.Networks;

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
    // On a user-defined network: what the endpoint has while the container runs (cleared at the exit, as dockerd's).
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string Gateway { get; set; } = "";
    public string MacAddress { get; set; } = "";
    /// <summary>Kept after the exit, as dockerd keeps them.</summary>
    public List<string>? Aliases { get; set; }
    /// <summary>The veth's end on the bridge while it runs (not shown: berthd deletes it at the exit).</summary>
    public string HostVeth { get; set; } = "";
    /// <summary>The published ports' bindings while it runs ("80/tcp" → host address and port).</summary>
    public Dictionary<string, List<PortBinding>?>? Ports { get; set; }
}

/// <summary>
/// The networks a container is on, in dockerd's shape with <c>--bridge none</c>: NetworkMode none and host are on the
/// predefined networks "none" and "host" (with their ids; an endpoint while it runs), the default and "bridge" on
/// "bridge", which has no network behind it (no ids at all), and container:&lt;x&gt; on none of its own.
/// </summary>
public static class ContainerNetworks
{
    /// <summary>The network NetworkMode puts the container on, by its name as the mode gives it; null for another container's network.</summary>
    public static string? NameOf(string networkMode) => networkMode switch
    {
        "" or "default" or "bridge" => "bridge",
        _ when networkMode.StartsWith("container:", StringComparison.Ordinal) => null,
        _ => networkMode,
    };

    /// <summary>A start: a new sandbox and, on a predefined network, a new endpoint on it; on a user-defined network, the endpoint it joined.</summary>
    public static void Started(ContainerRecordFile record, int pid, PredefinedNetworks networks, ContainerEndpoint? endpoint)
    {
        string? network = NameOf(record.HostConfig.NetworkMode);
        if (network is null)
        {
            record.Network = null;
            return;
        }
        if (endpoint is not null)
        {
            record.Network = new ContainerNetworkState
            {
                SandboxID = endpoint.SandboxId,
                SandboxKey = endpoint.NetnsPath,
                NetworkID = endpoint.NetworkId,
                EndpointID = endpoint.EndpointId,
                IPAddress = endpoint.Address.ToString(),
                IPPrefixLen = endpoint.PrefixLength,
                Gateway = endpoint.Gateway.ToString(),
                MacAddress = endpoint.MacAddress,
                Aliases = [.. endpoint.Aliases],
                Ports = endpoint.Ports.Count > 0 ? endpoint.Ports : null,
                HostVeth = endpoint.HostVeth,
            };
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

    /// <summary>The endpoint a running container on a user-defined network has, read back from its record after berthd's restart.</summary>
    public static ContainerEndpoint? EndpointOf(ContainerRecordFile record, string networkName)
    {
        if (record.Network is not { EndpointID.Length: > 0, IPAddress.Length: > 0 } state
            || !System.Net.IPAddress.TryParse(state.IPAddress, out var address) || !System.Net.IPAddress.TryParse(state.Gateway, out var gateway))
            return null;
        return new ContainerEndpoint
        {
            ContainerId = record.Id,
            ContainerName = record.Name.TrimStart('/'),
            NetworkId = state.NetworkID,
            NetworkName = networkName,
            EndpointId = state.EndpointID,
            SandboxId = state.SandboxID,
            NetnsPath = state.SandboxKey,
            Address = address,
            PrefixLength = state.IPPrefixLen,
            Gateway = gateway,
            MacAddress = state.MacAddress,
            Aliases = state.Aliases ?? [],
            Ports = state.Ports ?? [],
            HostVeth = state.HostVeth,
        };
    }

    /// <summary>An exit: the endpoint is gone (and on a user-defined network its address), the rest stays.</summary>
    public static void Exited(ContainerRecordFile record)
    {
        if (record.Network is not { } state) return;
        state.EndpointID = "";
        state.IPAddress = "";
        state.IPPrefixLen = 0;
        state.Gateway = "";
        state.MacAddress = "";
        state.Ports = null;
        state.HostVeth = "";
    }

    /// <summary>Inspect's NetworkSettings; while it runs, Ports has the bindings and the exposed ports without one (null).</summary>
    public static NetworkSettings Settings(ContainerRecordFile record, IEnumerable<string>? exposedPorts) => new()
    {
        SandboxID = record.Network?.SandboxID ?? "",
        SandboxKey = record.Network?.SandboxKey ?? "",
        Ports = record.Running ? Ports(record, exposedPorts) : [],
        Networks = Endpoints(record).ToDictionary(e => e.Key, e => e.Value),
    };

    static Dictionary<string, List<PortBinding>?> Ports(ContainerRecordFile record, IEnumerable<string>? exposedPorts)
    {
        var ports = new Dictionary<string, List<PortBinding>?>(record.Network?.Ports ?? []);
        // Only a container with a network of its own has ports to show (dockerd shows none on host, none or container:x).
        if (record.Network is { EndpointID.Length: > 0 } && NameOf(record.HostConfig.NetworkMode) is not (null or "host"))
            foreach (var key in exposedPorts ?? []) ports.TryAdd(key.Contains('/') ? key : key + "/tcp", null);
        return ports;
    }

    /// <summary>The list's Ports: a line per binding, and the exposed ports without one.</summary>
    public static List<ContainerPort> SummaryPorts(ContainerRecordFile record, IEnumerable<string>? exposedPorts)
    {
        var list = new List<ContainerPort>();
        if (!record.Running) return list;
        foreach (var (key, bindings) in Ports(record, exposedPorts))
        {
            var slash = key.IndexOf('/');
            if (!int.TryParse(key[..slash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)) continue;
            string type = key[(slash + 1)..];
            if (bindings is null)
            {
                list.Add(new ContainerPort { PrivatePort = port, Type = type });
                continue;
            }
            foreach (var binding in bindings)
                list.Add(new ContainerPort
                {
                    IP = binding.HostIp,
                    PrivatePort = port,
                    PublicPort = int.TryParse(binding.HostPort, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) ? p : 0,
                    Type = type,
                });
        }
        return list;
    }

    /// <summary>The list's NetworkSettings.Networks.</summary>
    public static Dictionary<string, EndpointSettings?> Summary(ContainerRecordFile record) =>
        Endpoints(record).ToDictionary(e => e.Key, e => (EndpointSettings?)e.Value);

    /// <summary>The ps filter's view: each network's name and id.</summary>
    public static Dictionary<string, string> Ids(ContainerRecordFile record) => Endpoints(record).ToDictionary(e => e.Key, e => e.Value.NetworkID);

    static IEnumerable<KeyValuePair<string, EndpointSettings>> Endpoints(ContainerRecordFile record)
    {
        if (NameOf(record.HostConfig.NetworkMode) is not { } network || record.NetworkDisconnected) yield break;
        var state = record.Network;
        // Before the first start dockerd shows the create's aliases and address request; afterwards the endpoint's.
        yield return new(network, new EndpointSettings
        {
            IPAMConfig = record.Endpoint?.IPAMConfig is { IPv4Address.Length: > 0 } ipam ? new EndpointIpamConfig { IPv4Address = ipam.IPv4Address } : null,
            Aliases = state?.Aliases ?? (record.Endpoint?.Aliases is { Count: > 0 } aliases ? aliases : null),
            NetworkID = state?.NetworkID ?? "",
            EndpointID = state?.EndpointID ?? "",
            Gateway = state?.Gateway ?? "",
            IPAddress = state?.IPAddress ?? "",
            IPPrefixLen = state?.IPPrefixLen ?? 0,
            MacAddress = state?.MacAddress ?? "",
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
    readonly string _created;

    PredefinedNetworks(Dictionary<string, string> ids, DateTime created)
    {
        _ids = ids;
        _created = ContainerJson.Rfc3339Nano(new DateTimeOffset(created, TimeSpan.Zero));
    }

    public string? IdOf(string network) => _ids.GetValueOrDefault(network);

    /// <summary>When the ids were made (networks.json's time), for the networks' Created.</summary>
    public string CreatedOf(string network) => _created;

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
        if (ids.ContainsKey("none") && ids.ContainsKey("host")) return new PredefinedNetworks(ids, File.GetLastWriteTimeUtc(path));
        ids.TryAdd("none", ContainerNames.NewId());
        ids.TryAdd("host", ContainerNames.NewId());
        Directory.CreateDirectory(dataRoot);
        ExecDrivers.AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(ids, PredefinedNetworksJson.Default.DictionaryStringString));
        return new PredefinedNetworks(ids, File.GetLastWriteTimeUtc(path));
    }
}

[JsonSerializable(typeof(Dictionary<string, string>))]
sealed partial class PredefinedNetworksJson : JsonSerializerContext;
