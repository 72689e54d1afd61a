using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Berth.Network.Ports;

/// <summary>Host ports for published ports, as libnetwork's portallocator: per protocol and host address, a port given
/// once until released; an ephemeral request takes the next port after the last one given in the kernel's
/// ip_local_port_range (wrapping), a range request (8000-8010) the next in that range. Unlike dockerd it also skips a
/// port another program holds (a test bind), so a busy port in a range does not fail the container; the proxy's own
/// bind stays the final check, and <see cref="StartProxy"/> tries the next port when it loses that race.</summary>
public sealed class HostPortAllocator
{
    /// <summary>libnetwork's range when ip_local_port_range cannot be read.</summary>
    public const int DefaultFirst = 49153, DefaultLast = 60999;

    /// <summary>dockerd's maxAllocatePortAttempts: ephemeral or range requests whose proxy cannot bind try again this often.</summary>
    const int StartAttempts = 10;

    readonly Lock gate = new();
    readonly Dictionary<(PortProtocol, IPAddress), HashSet<int>> given = [];
    readonly Dictionary<(PortProtocol, IPAddress, int, int), int> lastInRange = [];
    readonly Func<PortProtocol, IPAddress, int, bool> canBind;

    /// <param name="canBind">Whether a port can be bound now; a test bind by default.</param>
    public HostPortAllocator(int first, int last, Func<PortProtocol, IPAddress, int, bool>? canBind = null)
    {
        if (first < 1 || last > 65535 || last < first)
            throw new ArgumentOutOfRangeException(nameof(first), $"invalid ephemeral port range {first}-{last}");
        First = first;
        Last = last;
        this.canBind = canBind ?? CanBind;
    }

    /// <summary>The range ephemeral requests take from.</summary>
    public int First { get; }

    public int Last { get; }

    /// <summary>An allocator over this host's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, "32768\t60999").</summary>
    public static HostPortAllocator ForThisHost(string rangeFile = "/proc/sys/net/ipv4/ip_local_port_range")
    {
        try
        {
            var fields = File.ReadAllText(rangeFile).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2
                && int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
                && first >= 1 && last <= 65535 && first <= last)
                return new HostPortAllocator(first, last);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return new HostPortAllocator(DefaultFirst, DefaultLast);
    }

    /// <summary>Takes a host port: <paramref name="ports"/>' one port (refused when this allocator gave it already, with
    /// dockerd's "Bind for 0.0.0.0:8080 failed: port is already allocated"), the next free one in its range, or, for
    /// <see cref="HostPortRange.Ephemeral"/>, in the ephemeral range.</summary>
    public int Reserve(PortProtocol protocol, IPAddress hostIp, HostPortRange ports)
    {
        lock (gate)
        {
            var taken = Taken(protocol, hostIp);
            if (ports.IsSingle)
            {
                if (!taken.Add(ports.Start))
                    throw new HostPortException($"Bind for {Show(hostIp, ports.Start)} failed: port is already allocated", ports);
                return ports.Start;
            }
            var (first, last) = ports.IsEphemeral ? (First, Last) : (ports.Start, ports.End);
            var key = (protocol, hostIp, first, last);
            var port = lastInRange.GetValueOrDefault(key, last);
            for (var tried = 0; tried <= last - first; tried++)
            {
                port = port >= last ? first : port + 1;
                if (taken.Contains(port) || !canBind(protocol, hostIp, port))
                    continue;
                taken.Add(port);
                lastInRange[key] = port;
                return port;
            }
            throw new HostPortException(
                ports.IsEphemeral ? "all ports are allocated" : $"all ports in {first}-{last} are allocated for {protocol.Name()} on {hostIp}", ports);
        }
    }

    public void Release(PortProtocol protocol, IPAddress hostIp, int port)
    {
        lock (gate)
            Taken(protocol, hostIp).Remove(port);
    }

    /// <summary>Whether this allocator holds the port now.</summary>
    public bool IsReserved(PortProtocol protocol, IPAddress hostIp, int port)
    {
        lock (gate)
            return Taken(protocol, hostIp).Contains(port);
    }

    /// <summary>Reserves a port and starts its proxy; the port is released when the proxy is disposed or does not start.
    /// A range or ephemeral request whose bind fails (another program took the port since the check) tries the next
    /// port, up to 10 times as dockerd; a single port fails at once with the proxy's error.</summary>
    public PortProxy StartProxy(PortProtocol protocol, IPAddress hostIp, HostPortRange ports, IPEndPoint container,
        PortProxyOptions? options = null, Action<string>? log = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = Reserve(protocol, hostIp, ports);
            try
            {
                var proxy = PortProxy.Start(protocol, new IPEndPoint(hostIp, port), container, options ?? new PortProxyOptions(), log);
                proxy.OnDisposed(() => Release(protocol, hostIp, port));
                return proxy;
            }
            catch (PortProxyException e) when (!ports.IsSingle && e.AddressInUse && attempt < StartAttempts)
            {
                Release(protocol, hostIp, port);
            }
            catch
            {
                Release(protocol, hostIp, port);
                throw;
            }
        }
    }

    HashSet<int> Taken(PortProtocol protocol, IPAddress hostIp)
    {
        if (!given.TryGetValue((protocol, hostIp), out var taken))
            given[(protocol, hostIp)] = taken = [];
        return taken;
    }

    static string Show(IPAddress ip, int port) => new IPEndPoint(ip, port).ToString();

    /// <summary>A test bind, as the proxy will bind.</summary>
    static bool CanBind(PortProtocol protocol, IPAddress hostIp, int port)
    {
        try
        {
            PortProxy.Bind(protocol, new IPEndPoint(hostIp, port)).Dispose();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>No host port can be given for a request.</summary>
public sealed class HostPortException(string message, HostPortRange requested) : Exception(message)
{
    public HostPortRange Requested { get; } = requested;
}
