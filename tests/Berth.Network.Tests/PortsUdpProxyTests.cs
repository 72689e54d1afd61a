using System.Net;
using System.Net.Sockets;
using System.Text;
using Berth.Network.Ports;
using static Berth.Network.Tests.PortsTestKit;

namespace Berth.Network.Tests;

/// <summary>The UDP proxy over loopback: "the container" answers each datagram with its text and the port it came from.</summary>
public sealed class PortsUdpProxyTests : IDisposable
{
    readonly Socket container = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    readonly CancellationTokenSource stop = new();

    public PortsUdpProxyTests()
    {
        container.Bind(AnyLoopback);
        _ = Task.Run(async () =>
        {
            var buffer = new byte[65535];
            while (!stop.IsCancellationRequested)
            {
                SocketReceiveFromResult got;
                try { got = await container.ReceiveFromAsync(buffer, SocketFlags.None, AnyLoopback, stop.Token); }
                catch { return; }
                var from = (IPEndPoint)got.RemoteEndPoint;
                var reply = Encoding.ASCII.GetBytes($"{Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes)} via {from.Port}");
                await container.SendToAsync(reply, from);
            }
        });
    }

    IPEndPoint ContainerEndPoint => (IPEndPoint)container.LocalEndPoint!;

    public void Dispose()
    {
        stop.Cancel();
        container.Dispose();
    }

    static Socket Client()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(AnyLoopback);
        return s;
    }

    /// <summary>Sends <paramref name="text"/> to the proxy and returns the reply's text, or null when none comes in <paramref name="wait"/>.</summary>
    static async Task<string?> AskAsync(Socket client, IPEndPoint proxy, string text, TimeSpan? wait = null)
    {
        await client.SendToAsync(Encoding.ASCII.GetBytes(text), proxy);
        var buffer = new byte[65535];
        using var timeout = new CancellationTokenSource(wait ?? Bound);
        try
        {
            var got = await client.ReceiveFromAsync(buffer, SocketFlags.None, AnyLoopback, timeout.Token);
            Assert.Equal(proxy, got.RemoteEndPoint);
            return Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes);
        }
        catch (OperationCanceledException) when (wait != null)
        {
            return null;
        }
    }

    static int FlowPort(string? reply) => int.Parse(reply![(reply!.LastIndexOf(' ') + 1)..]);

    [Fact]
    public async Task TwoClientsGetTheirOwnRepliesThroughTheirOwnFlows()
    {
        await using var proxy = PortProxy.Start(PortProtocol.Udp, AnyLoopback, ContainerEndPoint);
        using var a = Client();
        using var b = Client();
        var replies = await Task.WhenAll(AskAsync(a, proxy.Host, "from a"), AskAsync(b, proxy.Host, "from b"));
        Assert.StartsWith("from a via ", replies[0]);
        Assert.StartsWith("from b via ", replies[1]);
        Assert.NotEqual(FlowPort(replies[0]), FlowPort(replies[1]));
        Assert.Equal(2, proxy.ActiveCount);

        // The same client keeps its flow.
        Assert.Equal(FlowPort(replies[0]), FlowPort((await AskAsync(a, proxy.Host, "again"))!));
        Assert.Equal(2, proxy.ActiveCount);
    }

    [Fact]
    public async Task IdleFlowsExpireAndANewDatagramOpensAFreshOne()
    {
        var options = new PortProxyOptions { UdpFlowIdleTimeout = TimeSpan.FromMilliseconds(300) };
        await using var proxy = PortProxy.Start(PortProtocol.Udp, AnyLoopback, ContainerEndPoint, options);
        using var client = Client();
        var first = (await AskAsync(client, proxy.Host, "one"))!;
        Assert.Equal(1, proxy.ActiveCount);
        await WaitUntilAsync(() => proxy.ActiveCount == 0, "the idle UDP flow to expire");
        Assert.Equal(1, ProxySockets(proxy.Host.Port, ContainerEndPoint.Port)); // the host socket alone

        var second = (await AskAsync(client, proxy.Host, "two"))!;
        Assert.StartsWith("two via ", second);
        Assert.NotEqual(FlowPort(first), FlowPort(second));
    }

    [Fact]
    public async Task NewClientsBeyondTheFlowBoundAreDroppedAndOldOnesServed()
    {
        var messages = new List<string>();
        var options = new PortProxyOptions { MaxUdpFlows = 1 };
        await using var proxy = PortProxy.Start(PortProtocol.Udp, AnyLoopback, ContainerEndPoint, options, m => { lock (messages) messages.Add(m); });
        using var a = Client();
        using var b = Client();
        Assert.StartsWith("a via", await AskAsync(a, proxy.Host, "a"));
        Assert.Null(await AskAsync(b, proxy.Host, "b", TimeSpan.FromMilliseconds(500)));
        Assert.StartsWith("a2 via", await AskAsync(a, proxy.Host, "a2"));
        lock (messages)
            Assert.Contains($"Dropping datagrams from new clients on udp/{proxy.Host}: 1 flows are open", messages);
    }

    [Fact]
    public async Task PortInUseIsAClearError()
    {
        using var holder = Client();
        var taken = (IPEndPoint)holder.LocalEndPoint!;
        var error = Assert.Throws<PortProxyException>(() => PortProxy.Start(PortProtocol.Udp, taken, ContainerEndPoint));
        Assert.Equal($"listen udp4 {taken}: bind: address already in use", error.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task DisposeClosesTheHostSocketAndEveryFlow()
    {
        var proxy = PortProxy.Start(PortProtocol.Udp, AnyLoopback, ContainerEndPoint);
        var clients = Enumerable.Range(0, 5).Select(_ => Client()).ToList();
        foreach (var (client, i) in clients.Select((c, i) => (c, i)))
            Assert.NotNull(await AskAsync(client, proxy.Host, $"c{i}"));
        Assert.Equal(6, ProxySockets(proxy.Host.Port, ContainerEndPoint.Port));

        await proxy.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(0, ProxySockets(proxy.Host.Port, ContainerEndPoint.Port));
        clients.ForEach(c => c.Dispose());
    }
}
