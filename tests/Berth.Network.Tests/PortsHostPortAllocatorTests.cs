using System.Net;
using System.Net.Sockets;
using Berth.Network.Ports;
using static Berth.Network.Tests.PortsTestKit;

namespace Berth.Network.Tests;

public class PortsHostPortAllocatorTests
{
    static readonly IPAddress All = IPAddress.Any;

    [Fact]
    public void EphemeralPortsGoRoundTheRangeAfterTheLastGivenAndSkipTheUnbindable()
    {
        var busy = new HashSet<int> { 40002 };
        var allocator = new HostPortAllocator(40000, 40003, (_, _, port) => !busy.Contains(port));
        Assert.Equal(40000, allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Ephemeral));
        Assert.Equal(40001, allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Ephemeral));
        Assert.Equal(40003, allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Ephemeral));
        allocator.Release(PortProtocol.Tcp, All, 40000);
        Assert.Equal(40000, allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Ephemeral));
        Assert.Equal("all ports are allocated",
            Assert.Throws<HostPortException>(() => allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Ephemeral)).Message);

        // Per protocol and per host address.
        Assert.Equal(40000, allocator.Reserve(PortProtocol.Udp, All, HostPortRange.Ephemeral));
        Assert.Equal(40000, allocator.Reserve(PortProtocol.Tcp, IPAddress.Loopback, HostPortRange.Ephemeral));
    }

    [Fact]
    public void RangesAndSinglePorts()
    {
        var allocator = new HostPortAllocator(40000, 40003, (_, _, _) => true);
        Assert.Equal(8000, allocator.Reserve(PortProtocol.Tcp, All, new HostPortRange(8000, 8001)));
        Assert.Equal(8001, allocator.Reserve(PortProtocol.Tcp, All, new HostPortRange(8000, 8001)));
        Assert.Equal("all ports in 8000-8001 are allocated for tcp on 0.0.0.0",
            Assert.Throws<HostPortException>(() => allocator.Reserve(PortProtocol.Tcp, All, new HostPortRange(8000, 8001))).Message);

        Assert.Equal(8080, allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Single(8080)));
        Assert.Equal("Bind for 0.0.0.0:8080 failed: port is already allocated",
            Assert.Throws<HostPortException>(() => allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Single(8080))).Message);
        Assert.True(allocator.IsReserved(PortProtocol.Tcp, All, 8080));
        allocator.Release(PortProtocol.Tcp, All, 8080);
        Assert.Equal(8080, allocator.Reserve(PortProtocol.Tcp, All, HostPortRange.Single(8080)));
    }

    [Fact]
    public void ARealBoundPortIsNotGivenUntilItIsFree()
    {
        var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(AnyLoopback);
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var allocator = new HostPortAllocator(port, port);
        Assert.Throws<HostPortException>(() => allocator.Reserve(PortProtocol.Tcp, IPAddress.Loopback, HostPortRange.Ephemeral));
        holder.Dispose();
        Assert.Equal(port, allocator.Reserve(PortProtocol.Tcp, IPAddress.Loopback, HostPortRange.Ephemeral));
    }

    [Fact]
    public async Task StartProxyReleasesThePortWhenTheProxyStopsOrCannotBind()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(AnyLoopback);
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        // The check says free but the bind fails (another program won the race): every attempt fails, nothing stays reserved.
        var allocator = new HostPortAllocator(port, port, (_, _, _) => true);
        var target = new IPEndPoint(IPAddress.Loopback, 9);
        var error = Assert.Throws<PortProxyException>(() => allocator.StartProxy(PortProtocol.Tcp, IPAddress.Loopback, HostPortRange.Ephemeral, target));
        Assert.Equal($"listen tcp4 127.0.0.1:{port}: bind: address already in use", error.Message);
        Assert.False(allocator.IsReserved(PortProtocol.Tcp, IPAddress.Loopback, port));

        holder.Close();
        var proxy = allocator.StartProxy(PortProtocol.Tcp, IPAddress.Loopback, HostPortRange.Ephemeral, target);
        Assert.Equal(port, proxy.Host.Port);
        Assert.True(allocator.IsReserved(PortProtocol.Tcp, IPAddress.Loopback, port));
        await proxy.DisposeAsync();
        Assert.False(allocator.IsReserved(PortProtocol.Tcp, IPAddress.Loopback, port));
    }

    [Fact]
    public void ReadsTheKernelsEphemeralRange()
    {
        var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', StringSplitOptions.TrimEntries);
        var allocator = HostPortAllocator.ForThisHost();
        Assert.Equal((int.Parse(fields[0]), int.Parse(fields[1])), (allocator.First, allocator.Last));

        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "garbage\n");
            var fallback = HostPortAllocator.ForThisHost(file);
            Assert.Equal((HostPortAllocator.DefaultFirst, HostPortAllocator.DefaultLast), (fallback.First, fallback.Last));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
