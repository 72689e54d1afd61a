using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.ExecDrivers;
using Berth.Network;

namespace Berth.Daemon.Networks;

/// <summary>What berthd keeps of a user-defined bridge network (<c>&lt;data-root&gt;/networks/&lt;id&gt;.json</c>).</summary>
public sealed class NetworkRecord
{
    public string Name { get; set; } = "";
    public string Id { get; set; } = "";
    public string Created { get; set; } = "";
    /// <summary>The subnet as the client wrote it (dockerd shows "198.18.77.5/24" as given), or the one taken from a pool.</summary>
    public string Subnet { get; set; } = "";
    /// <summary>The gateway the client asked for; "" when berthd chose the subnet's first address (dockerd then shows none for a given subnet).</summary>
    public string Gateway { get; set; } = "";
    public string IPRange { get; set; } = "";
    /// <summary>Whether the subnet came from a pool: dockerd shows the gateway it chose then, and static addresses are refused.</summary>
    public bool SubnetFromPool { get; set; }
    /// <summary>The Linux bridge: br-&lt;id[..12]&gt;, or com.docker.network.bridge.name.</summary>
    public string Bridge { get; set; } = "";
    public bool Attachable { get; set; }
    public Dictionary<string, string> Options { get; set; } = [];
    public Dictionary<string, string> Labels { get; set; } = [];

    [JsonIgnore] public IPv4Subnet ParsedSubnet => IPv4Subnet.TryParse(Subnet, out var s, out _) ? s : default;
    [JsonIgnore] public IPv4Subnet? ParsedRange => IPRange.Length > 0 && IPv4Subnet.TryParse(IPRange, out var r, out _) ? r : null;
    /// <summary>The bridge's address: the gateway asked for, else the subnet's first address.</summary>
    [JsonIgnore] public IPAddress GatewayAddress => Gateway.Length > 0 ? IPAddress.Parse(Gateway) : ParsedSubnet.At(1);
    /// <summary>"name (id)", as dockerd names a network in its allocation errors.</summary>
    [JsonIgnore] public string Described => $"{Name} ({Id})";
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, WriteIndented = true)]
[JsonSerializable(typeof(NetworkRecord))]
public sealed partial class NetworkJsonContext : JsonSerializerContext;

/// <summary>The network records on disk, one JSON file each, written atomically.</summary>
public sealed class NetworkStore(string dataRoot)
{
    readonly string _dir = Path.Combine(dataRoot, "networks");

    public IEnumerable<NetworkRecord> Load(Action<string, string> unreadable)
    {
        if (!Directory.Exists(_dir)) yield break;
        foreach (var file in Directory.EnumerateFiles(_dir, "*.json"))
        {
            NetworkRecord? record = null;
            try
            {
                record = JsonSerializer.Deserialize(File.ReadAllBytes(file), NetworkJsonContext.Default.NetworkRecord);
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                unreadable(file, e.Message);
            }
            if (record is not null) yield return record;
        }
    }

    public void Save(NetworkRecord record)
    {
        Directory.CreateDirectory(_dir);
        AtomicFile.Write(Path.Combine(_dir, record.Id + ".json"), JsonSerializer.SerializeToUtf8Bytes(record, NetworkJsonContext.Default.NetworkRecord));
    }

    public void Delete(string id) => File.Delete(Path.Combine(_dir, id + ".json"));
}
