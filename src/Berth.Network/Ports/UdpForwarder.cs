using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Berth.Network.Ports;

/// <summary>Receives on the host address; each client address gets a flow, a socket connected to the container whose
/// replies go back to that client from the host socket (docker-proxy's conntrack table). A flow with no datagram either
/// way for UdpFlowIdleTimeout is closed; beyond MaxUdpFlows, datagrams from new clients are dropped.</summary>
sealed class UdpForwarder(Socket listener, IPEndPoint container, PortProxyOptions options, Action<string> log) : IForwarder
{
    // The largest UDP payload over IPv4, as docker-proxy's buffer.
    const int DatagramSize = 65507;
    readonly CancellationTokenSource stopping = new();
    readonly Lock gate = new();
    readonly Dictionary<IPEndPoint, Flow> flows = [];
    readonly List<Task> replyLoops = [];
    bool warnedFull;

    public int ActiveCount
    {
        get { lock (gate) return flows.Count; }
    }

    public async Task RunAsync()
    {
        var sweeper = SweepAsync();
        var buffer = new byte[DatagramSize];
        EndPoint any = listener.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        while (!stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await listener.ReceiveFromAsync(buffer, SocketFlags.None, any, stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || stopping.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                // An ICMP error for an earlier reply to a client (ECONNREFUSED) lands here: it concerns no one else.
                if (e.SocketErrorCode != SocketError.ConnectionRefused && e.SocketErrorCode != SocketError.ConnectionReset)
                    log($"Cannot receive on udp/{listener.LocalEndPoint}: {SocketErrors.Describe(e)}");
                continue;
            }
            var flow = FlowFor((IPEndPoint)received.RemoteEndPoint);
            if (flow == null)
                continue;
            try
            {
                flow.Touch();
                await flow.Socket.SendAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // Nothing listens in the container yet (ECONNREFUSED from the last datagram), or the flow just expired.
                if (e is SocketException s && s.SocketErrorCode != SocketError.ConnectionRefused)
                    log($"Can't proxy a datagram to udp/{container}: {SocketErrors.Describe(s)}");
            }
        }
        await sweeper.ConfigureAwait(false);
        Task[] loops;
        lock (gate)
            loops = [.. replyLoops];
        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    Flow? FlowFor(IPEndPoint client)
    {
        lock (gate)
        {
            if (flows.TryGetValue(client, out var flow))
                return flow;
            if (flows.Count >= options.MaxUdpFlows)
            {
                if (!warnedFull)
                    log($"Dropping datagrams from new clients on udp/{listener.LocalEndPoint}: {options.MaxUdpFlows} flows are open");
                warnedFull = true;
                return null;
            }
            var socket = new Socket(container.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Connect(container);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                log($"Can't proxy a datagram to udp/{container}: {SocketErrors.Describe(e)}");
                return null;
            }
            flow = new Flow(client, socket);
            flows[client] = flow;
            replyLoops.Add(ReplyAsync(flow));
            return flow;
        }
    }

    async Task ReplyAsync(Flow flow)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(DatagramSize);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await flow.Socket.ReceiveAsync(buffer.AsMemory(0, DatagramSize), SocketFlags.None, stopping.Token).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    // The port-unreachable of a datagram sent before anything listened: the flow stays until it idles out.
                    continue;
                }
                flow.Touch();
                await listener.SendToAsync(buffer.AsMemory(0, read), SocketFlags.None, flow.Client, stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Expired, stopped, or the host socket failed.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Remove(flow);
        }
    }

    void Remove(Flow flow)
    {
        lock (gate)
        {
            if (flows.TryGetValue(flow.Client, out var current) && current == flow)
                flows.Remove(flow.Client);
            warnedFull = false;
        }
        flow.Socket.Dispose();
    }

    /// <summary>Closes idle flows, checking a few times per idle period.</summary>
    async Task SweepAsync()
    {
        var period = TimeSpan.FromTicks(Math.Clamp(options.UdpFlowIdleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(5).Ticks));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token).ConfigureAwait(false))
            {
                Flow[] idle;
                lock (gate)
                {
                    idle = [.. flows.Values.Where(f => f.IdleFor > options.UdpFlowIdleTimeout)];
                    replyLoops.RemoveAll(t => t.IsCompleted);
                }
                foreach (var flow in idle)
                    Remove(flow);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Close()
    {
        stopping.Cancel();
        listener.Dispose();
        Flow[] open;
        lock (gate)
            open = [.. flows.Values];
        foreach (var flow in open)
            Remove(flow);
    }

    sealed class Flow(IPEndPoint client, Socket socket)
    {
        long lastActivity = Environment.TickCount64;

        public IPEndPoint Client { get; } = client;

        public Socket Socket { get; } = socket;

        public TimeSpan IdleFor => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref lastActivity));

        public void Touch() => Interlocked.Exchange(ref lastActivity, Environment.TickCount64);
    }
}
