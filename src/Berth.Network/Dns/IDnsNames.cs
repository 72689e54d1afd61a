using System.Net;

namespace Berth.Network.Dns;

/// <summary>
/// Names a container may look up: answers from berthd's view of the networks, for one container (the asker). The
/// server calls these on its I/O threads, for every query, so they must be quick and must not block.
/// </summary>
public interface IDnsNames
{
    /// <summary>
    /// IPv4 addresses (later IPv6) for a name as asked: no trailing dot, in any case (compare ignoring case, as DNS
    /// does). Empty when the name is not a container's name, alias or short id on the asker's networks; the query is
    /// then forwarded to the upstream resolvers.
    /// </summary>
    IReadOnlyList<IPAddress> Lookup(string name);

    /// <summary>The name for a reverse lookup of an address on the asker's networks, or null.</summary>
    string? ReverseLookup(IPAddress address);
}
