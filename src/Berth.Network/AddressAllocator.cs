using System.Net;

namespace Berth.Network;

/// <summary>Why an address could not be had; the message is dockerd's sentence.</summary>
public sealed class AddressAllocationException(string message) : Exception(message);

/// <summary>
/// The addresses of one network's subnet: the gateway's, and the containers' (the lowest free one, or one asked for),
/// within the network's IP range when it has one, never the subnet's network or broadcast address. Thread-safe.
/// </summary>
public sealed class AddressAllocator
{
    readonly object _gate = new();
    readonly HashSet<uint> _used = [];
    readonly IPv4Subnet _range;

    /// <param name="subnet">The network's subnet.</param>
    /// <param name="range">Where containers' addresses come from (--ip-range); the subnet when null.</param>
    /// <param name="gateway">The bridge's address, kept from the containers.</param>
    /// <param name="describe">The network as dockerd names it in its "no available addresses" sentence: "name (id)".</param>
    public AddressAllocator(IPv4Subnet subnet, IPv4Subnet? range, IPAddress gateway, string describe)
    {
        Subnet = subnet;
        _range = range ?? subnet;
        Gateway = gateway;
        Describe = describe;
        _used.Add(IPv4Subnet.ToUInt32(gateway));
    }

    public IPv4Subnet Subnet { get; }
    public IPAddress Gateway { get; }
    string Describe { get; }

    /// <summary>An address for a container: <paramref name="wanted"/> when given (it must be in the subnet and free), else the lowest free one.</summary>
    /// <exception cref="AddressAllocationException">The address is taken or outside the subnet, or none is left.</exception>
    public IPAddress Allocate(IPAddress? wanted = null)
    {
        lock (_gate)
        {
            if (wanted is not null)
            {
                if (!Subnet.Contains(wanted))
                    throw new AddressAllocationException($"Invalid address {wanted}: It does not belong to any of this network's subnets");
                var value = IPv4Subnet.ToUInt32(wanted);
                if (!_used.Add(value)) throw new AddressAllocationException("Address already in use");
                return wanted;
            }
            // Neither the subnet's network address nor its broadcast address is a host's.
            uint first = Math.Max(_range.Network, Subnet.Network + 1), last = Math.Min(_range.Broadcast, Subnet.Broadcast - 1);
            for (ulong candidate = first; candidate <= last; candidate++)
                if (_used.Add((uint)candidate)) return IPv4Subnet.FromUInt32((uint)candidate);
            throw new AddressAllocationException($"no available IPv4 addresses on this network's address pools: {Describe}");
        }
    }

    /// <summary>Marks an address in use again (a container that kept running while berthd restarted); false when it already was.</summary>
    public bool Reserve(IPAddress address)
    {
        lock (_gate) return Subnet.Contains(address) && _used.Add(IPv4Subnet.ToUInt32(address));
    }

    /// <summary>Gives a container's address back; the gateway's stays.</summary>
    public void Release(IPAddress address)
    {
        lock (_gate)
        {
            var value = IPv4Subnet.ToUInt32(address);
            if (value != IPv4Subnet.ToUInt32(Gateway)) _used.Remove(value);
        }
    }
}
