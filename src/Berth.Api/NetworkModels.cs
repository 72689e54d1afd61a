using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>A network as dockerd describes it (GET /networks/{id}, an entry of GET /networks), at API 1.41.</summary>
public sealed class NetworkResource
{
    public string Name { get; set; } = "";
    public string Id { get; set; } = "";
    /// <summary>RFC 3339 with nanoseconds.</summary>
    public string Created { get; set; } = "";
    public string Scope { get; set; } = "local";
    public string Driver { get; set; } = "";
    public bool EnableIPv6 { get; set; }
    public NetworkIpam IPAM { get; set; } = new();
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool Ingress { get; set; }
    public NetworkConfigReference ConfigFrom { get; set; } = new();
    public bool ConfigOnly { get; set; }
    public Dictionary<string, NetworkEndpoint> Containers { get; set; } = [];
    public Dictionary<string, string> Options { get; set; } = [];
    public Dictionary<string, string> Labels { get; set; } = [];
}

/// <summary>A network's address management: its driver, options and subnets.</summary>
public sealed class NetworkIpam
{
    public string Driver { get; set; } = "default";
    /// <summary>null for the predefined networks, {} for the ones created (as dockerd).</summary>
    public Dictionary<string, string>? Options { get; set; }
    public List<NetworkIpamConfig> Config { get; set; } = [];
}

/// <summary>One subnet of a network; Go omits the empty fields.</summary>
public sealed class NetworkIpamConfig
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Subnet { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IPRange { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Gateway { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? AuxiliaryAddresses { get; set; }
}

public sealed class NetworkConfigReference
{
    public string Network { get; set; } = "";
}

/// <summary>A container's endpoint as a network's inspect lists it.</summary>
public sealed class NetworkEndpoint
{
    public string Name { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public string IPv4Address { get; set; } = "";
    public string IPv6Address { get; set; } = "";
}

/// <summary>POST /networks/create, its fields in the order the docker 28 CLI writes them.</summary>
public sealed class NetworkCreateRequest
{
    public string? Driver { get; set; }
    public string? Scope { get; set; }
    /// <summary>Sent only when --ipv6 is given (true or false), as the docker 28 CLI does.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? EnableIPv6 { get; set; }
    public NetworkIpam? IPAM { get; set; }
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool Ingress { get; set; }
    public bool ConfigOnly { get; set; }
    public NetworkConfigReference? ConfigFrom { get; set; }
    public Dictionary<string, string>? Options { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? Name { get; set; }
    public bool CheckDuplicate { get; set; }
}

/// <summary>The answer to POST /networks/create.</summary>
public sealed class NetworkCreateResponse
{
    public string Id { get; set; } = "";
    public string Warning { get; set; } = "";
}

/// <summary>POST /networks/prune.</summary>
public sealed class NetworksPruneReport
{
    public List<string>? NetworksDeleted { get; set; }
}

/// <summary>POST /networks/{id}/connect.</summary>
public sealed class NetworkConnectRequest
{
    public string Container { get; set; } = "";
    public EndpointSettings? EndpointConfig { get; set; }
}

/// <summary>POST /networks/{id}/disconnect.</summary>
public sealed class NetworkDisconnectRequest
{
    public string Container { get; set; } = "";
    public bool Force { get; set; }
}
