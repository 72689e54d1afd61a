using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Daemon.Containers;
using Berth.Daemon.Hosting;
using Berth.Linux;
using Berth.Network;
using Berth.Network.Dns;
using Berth.Network.Ports;

namespace Berth.Daemon.Networks;

/// <summary>A running container's place on a user-defined network: its namespace, address, and the names it answers to.</summary>
public sealed class ContainerEndpoint
{
    public required string ContainerId { get; init; }
    /// <summary>Without dockerd's leading '/'.</summary>
    public required string ContainerName { get; init; }
    public required string NetworkId { get; init; }
    public required string NetworkName { get; init; }
    public required string EndpointId { get; init; }
    public required string SandboxId { get; init; }
    /// <summary>The bind-mounted namespace file the spec joins (dockerd's SandboxKey).</summary>
    public required string NetnsPath { get; init; }
    public required IPAddress Address { get; init; }
    public required int PrefixLength { get; init; }
    public required IPAddress Gateway { get; init; }
    public required string MacAddress { get; init; }
    /// <summary>The veth's end on the bridge, in berthd's namespace.</summary>
    public required string HostVeth { get; init; }
    /// <summary>The client's aliases, then the short id and the hostname the client set, as dockerd lists them.</summary>
    public required IReadOnlyList<string> Aliases { get; init; }
    internal IAsyncDisposable? Dns { get; set; }
    /// <summary>The proxies of its published ports, and what NetworkSettings.Ports shows of them.</summary>
    internal List<PortProxy> Proxies { get; } = [];
    public Dictionary<string, List<PortBinding>?> Ports { get; init; } = [];
}

/// <summary>
/// Containers' network namespaces on user-defined networks, as dockerd's sandboxes: a namespace kept in a file under
/// &lt;exec-root&gt;/netns (the spec joins it by path, so it exists before the runtime runs and goes when the container
/// exits), a veth pair from the network's bridge to the container's eth0 with an address from the network's
/// allocator and dockerd's MAC (02:42 and the address), and a default route through the gateway.
/// </summary>
public sealed class NetworkSandboxes(string netnsDir, NetworkService networks, IReadOnlyList<IPEndPoint> upstreams, DaemonLog log)
{
    readonly HostPortAllocator _hostPorts = HostPortAllocator.ForThisHost();

    /// <summary>The container joins the network: its namespace, veth pair and address are made now.</summary>
    /// <exception cref="ApiException">The network is gone, or no address can be had (dockerd's sentences).</exception>
    /// <param name="hostname">Config.Hostname as the client set it ("" when not): dockerd makes it an alias too.</param>
    public ContainerEndpoint Join(string containerId, string containerName, string hostname, string networkReference, EndpointSettings? asked)
    {
        var network = networks.Resolve(networkReference);
        IPAddress? wanted = null;
        if (asked?.IPAMConfig?.IPv4Address is { Length: > 0 } text)
        {
            if (!IPAddress.TryParse(text, out wanted) || wanted.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw ApiException.BadRequest($"invalid IPv4 address: {text}");
            if (network.SubnetFromPool)
                throw ApiException.BadRequest("user specified IP address is supported only when connecting to networks with user configured subnets");
        }
        var allocator = networks.AddressesOf(network.Id);
        IPAddress address;
        try
        {
            address = allocator.Allocate(wanted);
        }
        catch (AddressAllocationException e)
        {
            throw new ApiException(wanted is null ? 500 : 400, e.Message, e);
        }
        string sandboxId = ContainerNames.NewId();
        string path = Path.Combine(netnsDir, sandboxId[..12]);
        string hostSide = "veth" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))[..7];
        try
        {
            Directory.CreateDirectory(netnsDir);
            NetworkNamespaceFile.Create(path);
            var mac = MacOf(address);
            int prefix = network.ParsedSubnet.PrefixLength;
            var gateway = network.GatewayAddress;
            using (var netns = Sys.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC))
            using (var netlink = RtNetlink.Open())
            {
                netlink.CreateVethPair(hostSide, "eth0", netns.Value);
                netlink.SetMaster(hostSide, network.Bridge);
                netlink.SetUp(hostSide);
            }
            NetworkNamespaceFile.RunIn(path, () =>
            {
                using var netlink = RtNetlink.Open();
                netlink.SetMacAddress("eth0", mac);
                netlink.AddAddress("eth0", address, prefix);
                netlink.SetUp("eth0");
                netlink.AddDefaultRoute(gateway);
                return 0;
            });
            var endpoint = new ContainerEndpoint
            {
                ContainerId = containerId,
                ContainerName = containerName,
                NetworkId = network.Id,
                NetworkName = network.Name,
                EndpointId = ContainerNames.NewId(),
                SandboxId = sandboxId,
                NetnsPath = path,
                Address = address,
                PrefixLength = prefix,
                Gateway = gateway,
                MacAddress = string.Join(':', mac.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))),
                HostVeth = hostSide,
                Aliases = [.. asked?.Aliases ?? [], containerId[..12], .. hostname.Length > 0 ? [hostname] : (string[])[]],
            };
            endpoint.Dns = StartDns(endpoint);
            networks.Joined(endpoint);
            return endpoint;
        }
        catch (Exception e)
        {
            TryDeleteVeth(hostSide);
            TryRemove(path);
            allocator.Release(address);
            if (e is ApiException) throw;
            throw new ApiException(500, $"cannot connect the container to network {network.Name}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Publishes the container's ports as dockerd with --iptables=false does, through a userland proxy in berthd per
    /// binding: on the host address asked for, or on 0.0.0.0 and (where the host listens on IPv6) [::] with the same port.
    /// </summary>
    /// <exception cref="ApiException">A port is taken or cannot be bound: dockerd's sentence, 500.</exception>
    public void Publish(ContainerEndpoint endpoint, IReadOnlyList<PublishedPort> ports)
    {
        foreach (var port in ports)
        {
            var container = new IPEndPoint(endpoint.Address, port.ContainerPort);
            var hostIp = port.HostIp ?? IPAddress.Any;
            var proxy = StartProxy(endpoint, () => _hostPorts.StartProxy(port.Protocol, hostIp, port.HostPorts, container, log: Log));
            Bind(endpoint, port.Key, proxy);
            if (port.HostIp is not null || !Socket.OSSupportsIPv6) continue;
            var same = HostPortRange.Single(proxy.Host.Port);
            try
            {
                Bind(endpoint, port.Key, StartProxy(endpoint, () => _hostPorts.StartProxy(port.Protocol, IPAddress.IPv6Any, same, container, log: Log)));
            }
            catch (ApiException) when (!Ipv6Listens())
            {
                // No IPv6 here: dockerd then publishes on 0.0.0.0 alone.
            }
        }
    }

    /// <summary>HostConfig.PortBindings and, with PublishAllPorts, the exposed ports, checked as dockerd does (400).</summary>
    public static IReadOnlyList<PublishedPort> PortsOf(HostConfig host, IEnumerable<string>? exposedPorts)
    {
        try
        {
            return PublishedPorts.Parse(
                host.PortBindings?.ToDictionary(b => b.Key, b => (IReadOnlyList<(string, string)>)[.. (b.Value ?? []).Select(x => (x.HostIp, x.HostPort))]),
                exposedPorts, host.PublishAllPorts);
        }
        catch (PublishedPortException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

    /// <summary>After berthd's restart: the running container's ports are published again on the host ports they had.</summary>
    public void Republish(ContainerEndpoint endpoint, Dictionary<string, List<PortBinding>?> bindings)
    {
        foreach (var (key, list) in bindings)
        {
            var slash = key.IndexOf('/');
            var protocol = key[(slash + 1)..] == "udp" ? PortProtocol.Udp : PortProtocol.Tcp;
            var container = new IPEndPoint(endpoint.Address, int.Parse(key[..slash], System.Globalization.CultureInfo.InvariantCulture));
            foreach (var binding in list ?? [])
                try
                {
                    var range = HostPortRange.Single(int.Parse(binding.HostPort, System.Globalization.CultureInfo.InvariantCulture));
                    Bind(endpoint, key, StartProxy(endpoint, () => _hostPorts.StartProxy(protocol, IPAddress.Parse(binding.HostIp), range, container, log: Log)));
                }
                catch (Exception e) when (e is ApiException or FormatException)
                {
                    log.Error("cannot publish the running container's port again", ("id", endpoint.ContainerId), ("port", key), ("error", e.Message));
                }
        }
    }

    static void Bind(ContainerEndpoint endpoint, string key, PortProxy proxy)
    {
        endpoint.Proxies.Add(proxy);
        if (!endpoint.Ports.TryGetValue(key, out var list) || list is null) endpoint.Ports[key] = list = [];
        list.Add(new PortBinding { HostIp = proxy.Host.Address.ToString(), HostPort = proxy.Host.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    static PortProxy StartProxy(ContainerEndpoint endpoint, Func<PortProxy> start)
    {
        try
        {
            return start();
        }
        catch (Exception e) when (e is PortProxyException or HostPortException)
        {
            string why = e is PortProxyException ? "Error starting userland proxy: " + e.Message : e.Message;
            throw new ApiException(500, $"driver failed programming external connectivity on endpoint {endpoint.ContainerName} ({endpoint.EndpointId}): {why}", e);
        }
    }

    static bool Ipv6Listens()
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    void Log(string message) => log.Info("port proxy", ("message", message));

    /// <summary>The container left (it exited, or its start failed): its port proxies and DNS server stop, its namespace
    /// goes (with the veth pair), its address is free again.</summary>
    public async Task LeaveAsync(string containerId)
    {
        if (networks.Left(containerId) is not { } endpoint) return;
        foreach (var proxy in endpoint.Proxies) await proxy.DisposeAsync();
        if (endpoint.Dns is { } dns) await dns.DisposeAsync();
        TryDeleteVeth(endpoint.HostVeth);
        TryRemove(endpoint.NetnsPath);
        networks.AddressesOf(endpoint.NetworkId).Release(endpoint.Address);
    }

    /// <summary>After berthd's restart: a container that still runs keeps its endpoint and address, and its DNS server
    /// answers again (its sockets were berthd's; the namespace, kept in its file, was not).</summary>
    public void Restore(ContainerEndpoint endpoint)
    {
        networks.AddressesOf(endpoint.NetworkId).Reserve(endpoint.Address);
        try
        {
            endpoint.Dns = StartDns(endpoint);
        }
        catch (Exception e) when (e is LinuxException or SocketException or IOException)
        {
            log.Error("cannot serve DNS in the running container's namespace again", ("id", endpoint.ContainerId), ("error", e.Message));
        }
        networks.Joined(endpoint);
    }

    /// <summary>
    /// The embedded DNS server at 127.0.0.11:53 in the container's namespace, as dockerd's: its sockets are opened on a
    /// thread inside the namespace (they stay bound there), and served by berthd. Names of the network's containers
    /// are answered; the rest is forwarded to the host's resolvers from berthd's own namespace.
    /// </summary>
    EmbeddedDnsServer StartDns(ContainerEndpoint endpoint)
    {
        var (udp, tcp) = NetworkNamespaceFile.RunIn(endpoint.NetnsPath, () =>
        {
            var at = new IPEndPoint(IPAddress.Parse(Engine.SandboxFiles.EmbeddedDnsAddress), 53);
            var datagrams = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var stream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                datagrams.Bind(at);
                stream.Bind(at);
                stream.Listen(64);
                return (datagrams, stream);
            }
            catch
            {
                datagrams.Dispose();
                stream.Dispose();
                throw;
            }
        });
        var server = new EmbeddedDnsServer(udp, tcp, new NetworkNames(networks, endpoint), upstreams, TimeSpan.FromSeconds(4),
            message => log.Debug("embedded DNS", ("id", endpoint.ContainerId), ("message", message)));
        server.Start();
        return server;
    }

    /// <summary>The namespace file and veth left by a container that exited while berthd was down.</summary>
    public void Forget(string netnsPath, string hostVeth)
    {
        if (hostVeth.StartsWith("veth", StringComparison.Ordinal)) TryDeleteVeth(hostVeth);
        if (netnsPath.StartsWith(netnsDir + "/", StringComparison.Ordinal)) TryRemove(netnsPath);
    }

    /// <summary>dockerd's MAC for an IPv4 address: 02:42 and the address's four bytes.</summary>
    public static byte[] MacOf(IPAddress address) => [0x02, 0x42, .. address.GetAddressBytes()];

    /// <summary>
    /// The pair goes with the container's namespace too, but only once the kernel has cleaned that namespace up, some
    /// time later: deleting the bridge's end now leaves nothing of the container on the bridge when the call returns.
    /// </summary>
    void TryDeleteVeth(string name)
    {
        try
        {
            using var netlink = RtNetlink.Open();
            if (netlink.LinkIndex(name) >= 0) netlink.DeleteLink(name);
        }
        catch (LinuxException e)
        {
            log.Warn("cannot delete a container's veth", ("link", name), ("error", e.Message));
        }
    }

    void TryRemove(string path)
    {
        try
        {
            NetworkNamespaceFile.Remove(path);
        }
        catch (Exception e) when (e is LinuxException or IOException)
        {
            log.Warn("cannot remove a container's network namespace", ("path", path), ("error", e.Message));
        }
    }
}

/// <summary>
/// What a container's DNS server answers: the containers on its network by name, alias (the short id is one), and
/// name.network, as dockerd's resolver does; an address of the network back to name.network.
/// </summary>
sealed class NetworkNames(NetworkService networks, ContainerEndpoint asker) : IDnsNames
{
    public IReadOnlyList<IPAddress> Lookup(string name)
    {
        var suffix = "." + asker.NetworkName;
        var bare = name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) ? name[..^suffix.Length] : name;
        return [.. networks.Endpoints.Where(e => e.NetworkId == asker.NetworkId
            && (string.Equals(e.ContainerName, bare, StringComparison.OrdinalIgnoreCase)
                || e.Aliases.Any(a => string.Equals(a, bare, StringComparison.OrdinalIgnoreCase))))
            .Select(e => e.Address)];
    }

    public string? ReverseLookup(IPAddress address) =>
        networks.Endpoints.FirstOrDefault(e => e.NetworkId == asker.NetworkId && e.Address.Equals(address)) is { } e ? $"{e.ContainerName}.{e.NetworkName}" : null;
}
