using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Berth.Network.Dns;

namespace Berth.Network.Tests;

/// <summary>Queries, a client and fake names and upstreams for the embedded DNS server's tests, all over loopback.</summary>
static class DnsTestKit
{
    /// <summary>Every wait in these tests: generous, since the machine is shared and slow.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    public static byte[] Query(ushort id, string name, ushort type, ushort? ednsSize = null, ushort flags = DnsHeader.FlagRecursionDesired)
    {
        var wire = DnsName.FromText(name) ?? throw new ArgumentException($"'{name}' is not a DNS name.");
        var message = new byte[12 + wire.Length + 4 + (ednsSize is null ? 0 : 11)];
        new DnsHeader(id, flags, 1, 0, 0, (ushort)(ednsSize is null ? 0 : 1)).Write(message);
        wire.CopyTo(message, 12);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(12 + wire.Length), type);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(14 + wire.Length), DnsConstants.ClassIn);
        if (ednsSize is { } size)
        {
            var opt = message.AsSpan(16 + wire.Length);
            opt[0] = 0; // root owner
            BinaryPrimitives.WriteUInt16BigEndian(opt[1..], DnsConstants.TypeOpt);
            BinaryPrimitives.WriteUInt16BigEndian(opt[3..], size);
        }
        return message;
    }

    public static DnsMessage Parse(byte[] reply)
    {
        Assert.True(DnsMessage.TryParse(reply, out var parsed, out var error), error);
        return parsed!;
    }

    /// <summary>The A/AAAA answers' addresses, sorted.</summary>
    public static string[] Addresses(byte[] reply, DnsMessage parsed) =>
        parsed.Answers.Select(a => new IPAddress(reply.AsSpan(a.DataOffset, a.DataLength)).ToString()).Order().ToArray();

    public static Socket BoundUdp()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    public static Socket ListeningTcp()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen();
        return socket;
    }

    /// <summary>Sends one datagram from a fresh socket and returns the first reply, or null when none came within <paramref name="wait"/>.</summary>
    public static async Task<byte[]?> AskUdpAsync(EndPoint server, byte[] query, TimeSpan? wait = null)
    {
        using var client = BoundUdp();
        await client.SendToAsync(query, SocketFlags.None, server);
        return await ReceiveAsync(client, wait ?? Bound);
    }

    public static async Task<byte[]?> ReceiveAsync(Socket client, TimeSpan wait)
    {
        var buffer = new byte[65535];
        using var deadline = new CancellationTokenSource(wait);
        try
        {
            var length = await client.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            return buffer[..length];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public static async Task<Socket> ConnectTcpAsync(EndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server);
        return socket;
    }

    public static async Task<byte[]> AskTcpAsync(Socket connection, byte[] query)
    {
        using var deadline = new CancellationTokenSource(Bound);
        await DnsTcp.WriteAsync(connection, query, deadline.Token);
        return await DnsTcp.ReadAsync(connection, deadline.Token) ?? throw new Xunit.Sdk.XunitException("The server closed the TCP connection instead of answering.");
    }

    /// <summary>True when the server closes the connection within the bound (a read ends with 0 bytes or a reset).</summary>
    public static async Task<bool> ClosedByServerAsync(Socket connection)
    {
        using var deadline = new CancellationTokenSource(Bound);
        try
        {
            return await connection.ReceiveAsync(new byte[1], SocketFlags.None, deadline.Token) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>Names as berthd would hand them: container name, alias and short id → addresses; compares ignoring case.</summary>
sealed class FakeNames : IDnsNames
{
    readonly Dictionary<string, IPAddress[]> _names = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<IPAddress, string> _reverse = [];
    public ConcurrentQueue<string> Asked { get; } = new();

    public FakeNames Add(string name, params string[] addresses)
    {
        _names[name] = addresses.Select(IPAddress.Parse).ToArray();
        return this;
    }

    public FakeNames AddReverse(string address, string name)
    {
        _reverse[IPAddress.Parse(address)] = name;
        return this;
    }

    public IReadOnlyList<IPAddress> Lookup(string name)
    {
        Asked.Enqueue(name);
        return _names.TryGetValue(name, out var found) ? found : [];
    }

    public string? ReverseLookup(IPAddress address) => _reverse.GetValueOrDefault(address);
}

/// <summary>
/// An upstream resolver on 127.0.0.1 (UDP and TCP on one port) answering with <see cref="Answer"/>: a reply for the
/// query, or null to stay silent. It records what it was asked and over which protocol.
/// </summary>
sealed class FakeUpstream : IAsyncDisposable
{
    Socket _udp = DnsTestKit.BoundUdp();
    Socket _tcp = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    readonly CancellationTokenSource _stop = new();
    readonly List<Task> _loops = [];
    public ConcurrentQueue<(string Protocol, ushort Id, string Name)> Asked { get; } = new();
    public required Func<DnsMessage, byte[]?> Answer { get; init; }
    public IPEndPoint EndPoint => (IPEndPoint)_udp.LocalEndPoint!;

    /// <summary>A reply with one A record of <paramref name="address"/>, TTL 42 (not the server's own 600).</summary>
    public static Func<DnsMessage, byte[]?> Answering(string address) => query =>
        DnsReply.Build(query.Header, query.Questions[0], DnsConstants.RcodeNoError, true,
            [new DnsAnswer(DnsConstants.TypeA, 42, IPAddress.Parse(address).GetAddressBytes())], 65535, false);

    public static Func<DnsMessage, byte[]?> Failing(int rcode) => query =>
        DnsReply.Build(query.Header, query.Questions[0], rcode, true, [], 65535, false);

    public static readonly Func<DnsMessage, byte[]?> Silent = _ => null;

    public FakeUpstream Start()
    {
        // UDP and TCP on one port, as a resolver listens: another UDP port when the TCP one is taken.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                _tcp.Bind(EndPoint);
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 20)
            {
                _udp.Dispose();
                _tcp.Dispose();
                _udp = DnsTestKit.BoundUdp();
                _tcp = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            }
        }
        _tcp.Listen();
        _loops.Add(Task.Run(ServeUdpAsync));
        _loops.Add(Task.Run(ServeTcpAsync));
        return this;
    }

    async Task ServeUdpAsync()
    {
        var buffer = new byte[65535];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            var query = DnsTestKit.Parse(buffer[..received.ReceivedBytes]);
            Asked.Enqueue(("udp", query.Header.Id, DnsName.ToText(query.Questions[0].Name)!));
            if (Answer(query) is { } reply)
                await _udp.SendToAsync(reply, SocketFlags.None, received.RemoteEndPoint);
        }
    }

    async Task ServeTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _tcp.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (connection)
                {
                    try
                    {
                        while (await DnsTcp.ReadAsync(connection, _stop.Token) is { } message)
                        {
                            var query = DnsTestKit.Parse(message);
                            Asked.Enqueue(("tcp", query.Header.Id, DnsName.ToText(query.Questions[0].Name)!));
                            if (Answer(query) is { } reply)
                                await DnsTcp.WriteAsync(connection, reply, _stop.Token);
                        }
                    }
                    catch (Exception) when (_stop.IsCancellationRequested)
                    {
                    }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _udp.Dispose();
        _tcp.Dispose();
        await Task.WhenAll(_loops).WaitAsync(DnsTestKit.Bound);
        _stop.Dispose();
    }
}
