using System.Net;
using System.Net.Sockets;

namespace Berth.Network.Ports;

/// <summary>Limits of one proxy. The defaults are docker-proxy's where it has one (90 s for a UDP flow).</summary>
public sealed record PortProxyOptions
{
    /// <summary>How long a TCP connect to the container may take before the client's connection is closed.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A UDP flow with no datagram either way for this long is closed (docker-proxy: 90 s).</summary>
    public TimeSpan UdpFlowIdleTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>At most this many UDP flows (one socket each); a datagram from a new client beyond it is dropped.</summary>
    public int MaxUdpFlows { get; init; } = 1024;

    /// <summary>How long <see cref="PortProxy.DisposeAsync"/> waits for its loops after closing every socket.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>A published port's host address cannot be listened on. The message is docker-proxy's
/// ("listen tcp4 127.0.0.1:8080: bind: address already in use"), which dockerd shows after "Error starting userland proxy: ".</summary>
public sealed class PortProxyException(string message, SocketError error, Exception? inner = null) : Exception(message, inner)
{
    public SocketError Error { get; } = error;

    public bool AddressInUse => Error == SocketError.AddressAlreadyInUse;
}

/// <summary>One published port: listens on <see cref="Host"/> and forwards to the container, as docker-proxy does when
/// dockerd runs with --iptables=false (or --userland-proxy for loopback), in-process and with async I/O.</summary>
public sealed class PortProxy : IAsyncDisposable
{
    readonly IForwarder forwarder;
    readonly Task serving;
    readonly TimeSpan stopTimeout;
    Action? onDisposed;
    int disposed;

    PortProxy(PortProtocol protocol, IPEndPoint host, IPEndPoint container, IForwarder forwarder, TimeSpan stopTimeout)
    {
        Protocol = protocol;
        Host = host;
        Container = container;
        this.forwarder = forwarder;
        this.stopTimeout = stopTimeout;
        serving = forwarder.RunAsync();
    }

    public PortProtocol Protocol { get; }

    /// <summary>The bound endpoint: the real port when port 0 was asked.</summary>
    public IPEndPoint Host { get; }

    public IPEndPoint Container { get; }

    /// <summary>Forwarded TCP connections or UDP flows open now.</summary>
    public int ActiveCount => forwarder.ActiveCount;

    /// <summary>Binds now (throws <see cref="PortProxyException"/> naming the address when it cannot) and serves until disposed.</summary>
    public static PortProxy Start(PortProtocol protocol, IPEndPoint host, IPEndPoint container, Action<string>? log = null) =>
        Start(protocol, host, container, new PortProxyOptions(), log);

    public static PortProxy Start(PortProtocol protocol, IPEndPoint host, IPEndPoint container, PortProxyOptions options, Action<string>? log = null)
    {
        var listener = Listen(protocol, host);
        try
        {
            var bound = (IPEndPoint)listener.LocalEndPoint!;
            IForwarder forwarder = protocol == PortProtocol.Tcp
                ? new TcpForwarder(listener, container, options, log ?? (_ => { }))
                : new UdpForwarder(listener, container, options, log ?? (_ => { }));
            return new PortProxy(protocol, bound, container, forwarder, options.StopTimeout);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>Runs once after the proxy stopped (the allocator's release of the host port).</summary>
    internal void OnDisposed(Action action) => onDisposed = action;

    /// <summary>A socket of <paramref name="protocol"/> bound to <paramref name="host"/> (TCP sockets get SO_REUSEADDR from
    /// .NET, as Go's listeners do); throws <see cref="SocketException"/>.</summary>
    internal static Socket Bind(PortProtocol protocol, IPEndPoint host)
    {
        var socket = protocol == PortProtocol.Tcp
            ? new Socket(host.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(host.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // [::] serves IPv6 only: dockerd publishes 0.0.0.0 with its own proxy, and two proxies must not collide.
            if (host.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            socket.Bind(host);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    static Socket Listen(PortProtocol protocol, IPEndPoint host)
    {
        Socket? socket = null;
        try
        {
            socket = Bind(protocol, host);
            if (protocol == PortProtocol.Tcp)
                socket.Listen(512);
            return socket;
        }
        catch (SocketException e)
        {
            socket?.Dispose();
            var family = host.AddressFamily == AddressFamily.InterNetworkV6 ? "6" : "4";
            throw new PortProxyException(
                $"listen {protocol.Name()}{family} {host}: bind: {SocketErrors.Describe(e)}", e.SocketErrorCode, e);
        }
    }

    /// <summary>Stops listening and closes every forwarded connection and flow; waits at most StopTimeout for the loops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        forwarder.Close();
        try
        {
            await serving.WaitAsync(stopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Every socket is closed already; a loop that did not notice yet holds no fd.
        }
        onDisposed?.Invoke();
    }
}

/// <summary>The protocol half of a proxy: serves until closed.</summary>
interface IForwarder
{
    int ActiveCount { get; }

    /// <summary>Serves until <see cref="Close"/>; ends when every connection or flow it started has ended.</summary>
    Task RunAsync();

    /// <summary>Closes the listener and every forwarded socket, at once.</summary>
    void Close();
}

static class SocketErrors
{
    /// <summary>The kernel's words for the errors a proxy meets (NativeAOT may strip .NET's own messages).</summary>
    public static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AddressNotAvailable => "cannot assign requested address",
        SocketError.AccessDenied => "permission denied",
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset by peer",
        SocketError.HostUnreachable => "no route to host",
        SocketError.NetworkUnreachable => "network is unreachable",
        SocketError.TimedOut => "connection timed out",
        SocketError.TooManyOpenSockets => "too many open files",
        var other => $"{other} (errno {e.NativeErrorCode})",
    };
}
