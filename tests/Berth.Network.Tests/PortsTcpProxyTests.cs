using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Berth.Network.Ports;
using static Berth.Network.Tests.PortsTestKit;

namespace Berth.Network.Tests;

/// <summary>The TCP proxy over loopback: an echo or scripted server on 127.0.0.1 is "the container".</summary>
public class PortsTcpProxyTests
{
    [Fact]
    public async Task ManyConcurrentConnectionsEachGetTheirOwnBytesBack()
    {
        using var container = new TcpServer(Echo);
        await using var proxy = PortProxy.Start(PortProtocol.Tcp, AnyLoopback, container.EndPoint);
        Assert.NotEqual(0, proxy.Host.Port);
        Assert.Equal(IPAddress.Loopback, proxy.Host.Address);

        const int clients = 64, size = 200_000;
        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(async i =>
        {
            var payload = new byte[size];
            new Random(i).NextBytes(payload);
            using var client = await ConnectAsync(proxy.Host);
            var reading = ReadToEndAsync(client);
            await client.SendAsync(payload);
            client.Shutdown(SocketShutdown.Send);
            var echoed = await reading;
            return payload.SequenceEqual(echoed);
        }));
        Assert.All(results, Assert.True);
    }

    [Fact]
    public async Task ClientHalfCloseReachesTheContainerAndTheReplyStillComesBack()
    {
        // The container reads to the end, then answers with what it counted: only an end passed on lets it answer.
        using var container = new TcpServer(async s =>
        {
            var got = await ReadToEndAsync(s);
            await s.SendAsync(Encoding.ASCII.GetBytes($"got {got.Length} bytes"));
        });
        await using var proxy = PortProxy.Start(PortProtocol.Tcp, AnyLoopback, container.EndPoint);
        using var client = await ConnectAsync(proxy.Host);
        await client.SendAsync(new byte[12345]);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("data:got 12345 bytes", await HowItEndsAsync(client));
    }

    [Fact]
    public async Task ContainerHalfCloseReachesTheClientWhichCanStillSend()
    {
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var container = new TcpServer(async s =>
        {
            await s.SendAsync(Encoding.ASCII.GetBytes("hello"));
            s.Shutdown(SocketShutdown.Send);
            received.SetResult(Encoding.ASCII.GetString(await ReadToEndAsync(s)));
        });
        await using var proxy = PortProxy.Start(PortProtocol.Tcp, AnyLoopback, container.EndPoint);
        using var client = await ConnectAsync(proxy.Host);
        Assert.Equal("hello", Encoding.ASCII.GetString(await ReadToEndAsync(client)));
        await client.SendAsync(Encoding.ASCII.GetBytes("still here"));
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("still here", await received.Task.WaitAsync(Bound));
    }

    [Fact]
    public async Task RefusedContainerClosesTheClientAndTheProxyKeepsServing()
    {
        // Bound but not listening: connections to it are refused until Listen, with no race for the port.
        var containerSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        containerSocket.Bind(AnyLoopback);
        var containerEndPoint = (IPEndPoint)containerSocket.LocalEndPoint!;
        var log = new ConcurrentQueue<string>();
        await using var proxy = PortProxy.Start(PortProtocol.Tcp, AnyLoopback, containerEndPoint, log.Enqueue);

        using (var refused = await ConnectAsync(proxy.Host))
            Assert.Equal("eof", await HowItEndsAsync(refused));
        Assert.Contains($"Can't forward traffic to backend tcp/{containerEndPoint}: connection refused", log);

        using var container = new TcpServer(Echo, containerSocket);
        using var client = await ConnectAsync(proxy.Host);
        await client.SendAsync(Encoding.ASCII.GetBytes("back"));
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("data:back", await HowItEndsAsync(client));
    }

    [Fact]
    public async Task PortInUseAndMissingAddressAreClearErrors()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(AnyLoopback);
        holder.Listen();
        var taken = (IPEndPoint)holder.LocalEndPoint!;
        var target = new IPEndPoint(IPAddress.Loopback, 9);

        var inUse = Assert.Throws<PortProxyException>(() => PortProxy.Start(PortProtocol.Tcp, taken, target));
        Assert.Equal($"listen tcp4 {taken}: bind: address already in use", inUse.Message);
        Assert.True(inUse.AddressInUse);

        // 192.0.2.0/24 is TEST-NET-1: no host has it, so the bind fails before anything is sent.
        var missing = Assert.Throws<PortProxyException>(() => PortProxy.Start(PortProtocol.Tcp, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 8080), target));
        Assert.Equal("listen tcp4 192.0.2.7:8080: bind: cannot assign requested address", missing.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task DisposeClosesTheListenerAndEveryForwardedConnection()
    {
        using var container = new TcpServer(Echo);
        var proxy = PortProxy.Start(PortProtocol.Tcp, AnyLoopback, container.EndPoint);
        var clients = new List<Socket>();
        for (var i = 0; i < 10; i++)
        {
            var client = await ConnectAsync(proxy.Host);
            await client.SendAsync(new byte[] { 1 });
            var one = new byte[1];
            Assert.Equal(1, await client.ReceiveAsync(one));
            clients.Add(client);
        }
        // 1 listener + 10 accepted + 10 backends.
        Assert.Equal(21, ProxySockets(proxy.Host.Port, container.EndPoint.Port));
        Assert.Equal(10, proxy.ActiveCount);

        await proxy.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(0, ProxySockets(proxy.Host.Port, container.EndPoint.Port));
        foreach (var client in clients)
            using (client)
                Assert.Contains(await HowItEndsAsync(client), new[] { "eof", "reset" });
        await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(proxy.Host));
    }
}
