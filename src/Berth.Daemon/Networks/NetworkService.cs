using System.Collections.Concurrent;
using System.Net;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Daemon.Containers;
using Berth.Daemon.Hosting;
using Berth.Network;

namespace Berth.Daemon.Networks;

/// <summary>
/// berthd's networks: the predefined "none" and "host", and user-defined bridge networks, each a Linux bridge in
/// berthd's network namespace with the gateway's address, containers joined to it by veth pairs (<see cref="Sandboxes"/>).
/// The /networks routes' answers and sentences are dockerd 20.10's. The "bridge" network of dockerd's default bridge
/// does not exist: berthd runs as dockerd --bridge none (NetworkMode default gives a namespace with only loopback).
/// </summary>
public sealed class NetworkService
{
    public const string BridgeNameOption = "com.docker.network.bridge.name";

    readonly object _gate = new();
    readonly NetworkStore _store;
    readonly Dictionary<string, NetworkRecord> _networks = [];
    readonly Dictionary<string, AddressAllocator> _addresses = [];
    readonly ConcurrentDictionary<string, ContainerEndpoint> _endpoints = new();
    readonly IReadOnlyList<AddressPool> _pools;
    readonly Func<PredefinedNetworks> _predefined;
    readonly Func<IEnumerable<ContainerRecordFile>> _containers;
    readonly DaemonLog _log;

    /// <param name="upstreams">Where the containers' DNS servers forward the names they do not know: the host's resolvers.</param>
    public NetworkService(string dataRoot, string execRoot, IReadOnlyList<AddressPool> pools, IReadOnlyList<IPEndPoint> upstreams,
        Func<PredefinedNetworks> predefined, Func<IEnumerable<ContainerRecordFile>> containers, DaemonLog log)
    {
        _store = new NetworkStore(dataRoot);
        _pools = pools;
        _predefined = predefined;
        _containers = containers;
        _log = log;
        Sandboxes = new NetworkSandboxes(Path.Combine(execRoot, "netns"), this, upstreams, log);
        foreach (var record in _store.Load((file, error) => log.Warn("network record that cannot be read", ("file", file), ("error", error))))
        {
            _networks[record.Id] = record;
            _addresses[record.Id] = new AddressAllocator(record.ParsedSubnet, record.ParsedRange, record.GatewayAddress, record.Described);
            try
            {
                BridgeLinks.Ensure(record);
            }
            catch (Exception e) when (e is Linux.LinuxException or IOException)
            {
                log.Error("cannot make the network's bridge again", ("network", record.Name), ("bridge", record.Bridge), ("error", e.Message));
            }
        }
    }

    /// <summary>Containers' network namespaces, veth pairs and DNS servers.</summary>
    public NetworkSandboxes Sandboxes { get; }

    // ------------------------------------------------------------------ lookup

    /// <summary>A user-defined network by exact name, full id, or unique id prefix, as dockerd looks one up.</summary>
    /// <exception cref="ApiException">404 "network X not found"; 400 when ambiguous.</exception>
    public NetworkRecord Resolve(string reference)
    {
        lock (_gate)
        {
            var byName = _networks.Values.Where(n => n.Name == reference).ToList();
            if (byName.Count == 1) return byName[0];
            if (_networks.TryGetValue(reference, out var byId)) return byId;
            var byPrefix = reference.Length > 0 ? _networks.Values.Where(n => n.Id.StartsWith(reference, StringComparison.Ordinal)).ToList() : [];
            if (byPrefix.Count == 1) return byPrefix[0];
            if (byPrefix.Count > 1) throw ApiException.BadRequest($"{byPrefix.Count} matches found based on ID prefix: network {reference} is ambiguous");
            throw ApiException.NotFound($"network {reference} not found");
        }
    }

    internal AddressAllocator AddressesOf(string networkId)
    {
        lock (_gate) return _addresses[networkId];
    }

    internal IEnumerable<ContainerEndpoint> Endpoints => _endpoints.Values;

    internal void Joined(ContainerEndpoint endpoint) => _endpoints[endpoint.ContainerId] = endpoint;

    internal ContainerEndpoint? Left(string containerId) => _endpoints.TryRemove(containerId, out var endpoint) ? endpoint : null;

    public ContainerEndpoint? EndpointOf(string containerId) => _endpoints.GetValueOrDefault(containerId);

    // ------------------------------------------------------------------ the routes

    /// <summary>POST /networks/create: a bridge network with its subnet (given or from the pools) and its bridge made now.</summary>
    public NetworkCreateResponse Create(NetworkCreateRequest request)
    {
        string name = request.Name ?? "";
        if (name.Length == 0) throw new ApiException(500, "invalid name: ");
        string driver = string.IsNullOrEmpty(request.Driver) ? "bridge" : request.Driver;
        if (driver is "host" or "null")
            throw new ApiException(403, $"only one instance of \"{(driver == "null" ? "none" : driver)}\" network is allowed");
        if (driver != "bridge")
        {
            if (driver is "macvlan" or "ipvlan" or "overlay")
                throw ApiException.NotImplemented($"network driver \"{driver}\" is not supported: Berth has bridge networks only");
            throw ApiException.NotFound($"plugin \"{driver}\" not found");
        }
        if (request.Scope is { Length: > 0 } scope && scope != "local")
            throw ApiException.NotImplemented($"network scope \"{scope}\" is not supported: Berth's networks are local");
        Refuse(request.EnableIPv6 == true, "EnableIPv6", "IPv6 on Berth's networks");
        Refuse(request.Internal, "Internal", "internal networks");
        Refuse(request.Ingress, "Ingress", "swarm's ingress network");
        Refuse(request.ConfigOnly || request.ConfigFrom is { Network.Length: > 0 }, "ConfigOnly/ConfigFrom", "configuration-only networks");
        var ipam = request.IPAM ?? new NetworkIpam();
        if (ipam.Driver is { Length: > 0 } ipamDriver && ipamDriver != "default")
            throw ApiException.NotFound($"plugin \"{ipamDriver}\" not found");
        if (ipam.Options is { Count: > 0 })
            throw ApiException.NotImplemented($"IPAM option \"{ipam.Options.Keys.First()}\" is not supported: Berth's address management has no options");
        if (ipam.Config.Count > 1)
            throw ApiException.NotImplemented("more than one IPAM config is not supported: Berth's networks have one IPv4 subnet");
        var options = request.Options ?? [];
        foreach (var key in options.Keys)
            if (key != BridgeNameOption)
                throw ApiException.NotImplemented($"network option \"{key}\" is not supported: Berth's bridge networks take only {BridgeNameOption}");

        lock (_gate)
        {
            if (_networks.Values.Any(n => n.Name == name) || name is "none" or "host")
                throw ApiException.Conflict($"network with name {name} already exists");
            string id = ContainerNames.NewId();
            var record = new NetworkRecord
            {
                Name = name,
                Id = id,
                Created = ContainerJson.Rfc3339Nano(DateTimeOffset.UtcNow),
                Bridge = options.GetValueOrDefault(BridgeNameOption) is { Length: > 0 } bridge ? bridge : "br-" + id[..12],
                Attachable = request.Attachable,
                Options = new Dictionary<string, string>(options),
                Labels = request.Labels ?? [],
            };
            PlaceSubnet(record, ipam.Config.FirstOrDefault());
            if (record.Bridge.Length > 15 || record.Bridge.Contains('/') || record.Bridge.Any(char.IsWhiteSpace))
                throw ApiException.BadRequest($"invalid bridge name \"{record.Bridge}\": a Linux interface name has at most 15 characters and no '/' or spaces");
            if (_networks.Values.Any(n => n.Bridge == record.Bridge))
                throw ApiException.Conflict($"bridge {record.Bridge} is used by another network");
            try
            {
                BridgeLinks.Create(record);
            }
            catch (Linux.LinuxException e)
            {
                throw new ApiException(500, $"cannot make the bridge {record.Bridge} of network {name}: {e.Message}", e);
            }
            try
            {
                _store.Save(record);
            }
            catch
            {
                BridgeLinks.TryDelete(record, _log);
                throw;
            }
            _networks[id] = record;
            _addresses[id] = new AddressAllocator(record.ParsedSubnet, record.ParsedRange, record.GatewayAddress, record.Described);
            _log.Info("network created", ("name", name), ("id", id), ("subnet", record.Subnet), ("bridge", record.Bridge));
            return new NetworkCreateResponse { Id = id };
        }
    }

    static void Refuse(bool asked, string field, string feature)
    {
        if (asked) throw ApiException.NotImplemented($"{field} is not supported: {feature} are not implemented yet");
    }

    /// <summary>The subnet, range and gateway asked for, checked as dockerd's IPAM does, or the pools' first free subnet.</summary>
    void PlaceSubnet(NetworkRecord record, NetworkIpamConfig? asked)
    {
        var used = _networks.Values.Select(n => n.ParsedSubnet).ToList();
        if (asked is null || string.IsNullOrEmpty(asked.Subnet))
        {
            if (asked is { IPRange.Length: > 0 } or { Gateway.Length: > 0 })
                throw ApiException.BadRequest("an IP range or a gateway needs a subnet");
            var free = AddressPool.FirstFree(_pools, used)
                ?? throw new ApiException(400, "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
            record.Subnet = free.ToString();
            record.SubnetFromPool = true;
            return;
        }
        if (asked.AuxiliaryAddresses is { Count: > 0 })
            throw ApiException.NotImplemented("AuxiliaryAddresses are not supported: Berth reserves no addresses besides the gateway");
        if (!IPv4Subnet.TryParse(asked.Subnet, out var subnet, out var error))
            throw new ApiException(500, $"Invalid subnet {asked.Subnet} : {error}");
        if (used.Any(subnet.Overlaps))
            throw new ApiException(403, "Pool overlaps with other one on this address space");
        record.Subnet = asked.Subnet;
        if (!string.IsNullOrEmpty(asked.IPRange))
        {
            if (!IPv4Subnet.TryParse(asked.IPRange, out var range, out error))
                throw new ApiException(500, $"Invalid pool request: invalid ip-range {asked.IPRange}: {error}");
            if (range.PrefixLength < subnet.PrefixLength || !subnet.Overlaps(range))
                throw new ApiException(500, $"Invalid pool request: ip-range {asked.IPRange} is not within the subnet {asked.Subnet}");
            record.IPRange = asked.IPRange;
        }
        if (!string.IsNullOrEmpty(asked.Gateway))
        {
            if (!IPAddress.TryParse(asked.Gateway, out var gateway) || gateway.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new ApiException(500, $"failed to allocate gateway ({asked.Gateway}): invalid IPv4 address");
            if (!subnet.Contains(gateway))
                throw new ApiException(500, $"failed to allocate gateway ({asked.Gateway}): Requested address is out of range");
            var value = IPv4Subnet.ToUInt32(gateway);
            if (value == subnet.Network || value == subnet.Broadcast)
                throw new ApiException(500, $"failed to allocate gateway ({asked.Gateway}): it is the subnet's {(value == subnet.Network ? "network" : "broadcast")} address");
            record.Gateway = asked.Gateway;
        }
    }

    /// <summary>GET /networks/{id}.</summary>
    public NetworkResource Inspect(string reference)
    {
        var predefined = _predefined();
        foreach (var name in new[] { "none", "host" })
            if (reference == name || reference == predefined.IdOf(name) || (reference.Length > 0 && predefined.IdOf(name)!.StartsWith(reference, StringComparison.Ordinal)))
                return Describe(name, predefined, withContainers: true);
        return Describe(Resolve(reference), withContainers: true);
    }

    /// <summary>GET /networks with dockerd's filters: driver, id, label, name, scope, type (custom, builtin), dangling.</summary>
    public List<NetworkResource> List(ApiFilters filters)
    {
        foreach (string key in filters.Keys)
            if (key is not ("driver" or "id" or "label" or "name" or "scope" or "type" or "dangling"))
                throw ApiException.BadRequest($"Invalid filter '{key}'");
        foreach (string type in filters.Get("type"))
            if (type is not ("custom" or "builtin"))
                throw ApiException.BadRequest($"invalid filter: 'type'='{type}'");
        bool? dangling = null;
        foreach (string value in filters.Get("dangling"))
            dangling = value.ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw ApiException.BadRequest($"invalid filter 'dangling={value}'"),
            };
        var predefined = _predefined();
        // As dockerd's list: the containers are for inspect.
        List<NetworkResource> all = [Describe("none", predefined, withContainers: false), Describe("host", predefined, withContainers: false)];
        lock (_gate) all.AddRange(_networks.Values.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => Describe(n, withContainers: false)));
        var used = _endpoints.Values.Select(e => e.NetworkId).ToHashSet();
        // A dangling network is a user-defined one no running container is on. (dockerd 20.10 counts the containers of
        // its list, which it leaves empty, and so calls every user-defined network dangling.)
        return [.. all.Where(n =>
            filters.ExactMatch("driver", n.Driver) && filters.FuzzyMatch("id", n.Id) && filters.Match("name", n.Name)
            && filters.ExactMatch("scope", n.Scope) && filters.MatchKeyValues("label", n.Labels)
            && filters.ExactMatch("type", n.Driver is "null" or "host" ? "builtin" : "custom")
            && (dangling is not { } d || (n.Driver == "bridge" && d != used.Contains(n.Id))))];
    }

    /// <summary>DELETE /networks/{id}: refused for the predefined ones and while a container is on it.</summary>
    public void Remove(string reference)
    {
        var predefined = _predefined();
        foreach (var name in new[] { "none", "host" })
            if (reference == name || reference == predefined.IdOf(name))
                throw new ApiException(403, $"{name} is a pre-defined network and cannot be removed");
        lock (_gate)
        {
            var record = Resolve(reference);
            if (_endpoints.Values.Any(e => e.NetworkId == record.Id))
                throw new ApiException(403, $"error while removing network: network {record.Name} id {record.Id} has active endpoints");
            Delete(record);
        }
    }

    void Delete(NetworkRecord record)
    {
        BridgeLinks.TryDelete(record, _log);
        _store.Delete(record.Id);
        _networks.Remove(record.Id);
        _addresses.Remove(record.Id);
        _log.Info("network removed", ("name", record.Name), ("id", record.Id));
    }

    /// <summary>POST /networks/prune: every user-defined network no running container is on (filters label and label!).</summary>
    public NetworksPruneReport Prune(ApiFilters filters)
    {
        foreach (string key in filters.Keys)
        {
            if (key == "until") throw ApiException.NotImplemented("the network prune filter 'until' is not implemented: prune with label filters or none");
            if (key is not ("label" or "label!")) throw ApiException.BadRequest($"Invalid filter '{key}'");
        }
        var deleted = new List<string>();
        lock (_gate)
        {
            foreach (var record in _networks.Values.OrderBy(n => n.Name, StringComparer.Ordinal).ToList())
            {
                if (_endpoints.Values.Any(e => e.NetworkId == record.Id)) continue;
                if (!filters.MatchKeyValues("label", record.Labels)) continue;
                if (filters.Get("label!") is { Count: > 0 } excluded && excluded.Any(l => ApiFilters.Holds(record.Labels, l))) continue;
                Delete(record);
                deleted.Add(record.Name);
            }
        }
        return new NetworksPruneReport { NetworksDeleted = deleted.Count > 0 ? deleted : null };
    }

    NetworkResource Describe(string name, PredefinedNetworks predefined, bool withContainers) => new()
    {
        Name = name,
        Id = predefined.IdOf(name)!,
        Created = predefined.CreatedOf(name),
        Driver = name == "none" ? "null" : "host",
        IPAM = new NetworkIpam { Options = null },
        Containers = !withContainers ? [] : _containers()
            .Where(r => r.Running && r.HostConfig.NetworkMode == name && r.Network is { EndpointID.Length: > 0 })
            .ToDictionary(r => r.Id, r => new NetworkEndpoint { Name = r.Name.TrimStart('/'), EndpointID = r.Network!.EndpointID }),
    };

    NetworkResource Describe(NetworkRecord record, bool withContainers) => new()
    {
        Name = record.Name,
        Id = record.Id,
        Created = record.Created,
        Driver = "bridge",
        IPAM = new NetworkIpam
        {
            Options = [],
            Config = [new NetworkIpamConfig
            {
                Subnet = record.Subnet,
                IPRange = record.IPRange.Length > 0 ? record.IPRange : null,
                // dockerd shows the gateway it chose only for a subnet it chose.
                Gateway = record.Gateway.Length > 0 ? record.Gateway : record.SubnetFromPool ? record.GatewayAddress.ToString() : null,
            }],
        },
        Attachable = record.Attachable,
        Containers = !withContainers ? [] : _endpoints.Values.Where(e => e.NetworkId == record.Id).ToDictionary(e => e.ContainerId, e => new NetworkEndpoint
        {
            Name = e.ContainerName,
            EndpointID = e.EndpointId,
            MacAddress = e.MacAddress,
            IPv4Address = $"{e.Address}/{e.PrefixLength}",
        }),
        Options = new Dictionary<string, string>(record.Options),
        Labels = new Dictionary<string, string>(record.Labels),
    };
}
