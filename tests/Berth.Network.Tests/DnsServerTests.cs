using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Berth.Network.Dns;
using static Berth.Network.Tests.DnsTestKit;

namespace Berth.Network.Tests;

/// <summary>The embedded DNS server over loopback, with fake names and fake upstreams, and busybox's nslookup as a real client.</summary>
public class DnsServerTests
{
    const ushort A = DnsConstants.TypeA, Aaaa = DnsConstants.TypeAaaa;

    /// <summary>A started server on 127.0.0.1 (UDP and TCP on one port) and what it logged.</summary>
    sealed class Served : IAsyncDisposable
    {
        public required EmbeddedDnsServer Server { get; init; }
        public required Socket Udp { get; init; }
        public required Socket Tcp { get; init; }
        public required ConcurrentQueue<string> Log { get; init; }
        public EndPoint EndPoint => Udp.LocalEndPoint!;
        public EndPoint TcpEndPoint => Tcp.LocalEndPoint!;
        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    static Served Serve(IDnsNames names, IPEndPoint[] upstreams, TimeSpan? upstreamTimeout = null, TimeSpan? tcpIdleTimeout = null,
        int maxInFlight = EmbeddedDnsServer.DefaultMaxInFlight)
    {
        var udp = BoundUdp();
        var tcp = ListeningTcp();
        var log = new ConcurrentQueue<string>();
        var server = new EmbeddedDnsServer(udp, tcp, names, upstreams, upstreamTimeout ?? TimeSpan.FromSeconds(10), log.Enqueue, tcpIdleTimeout, maxInFlight);
        var served = new Served { Server = server, Udp = udp, Tcp = tcp, Log = log };
        server.Start();
        return served;
    }

    static FakeNames Names() => new FakeNames().Add("web", "198.18.0.2", "198.19.0.2").Add("db", "198.18.0.3").AddReverse("198.18.0.2", "web");

    [Fact]
    public async Task AnswersAKnownNameAsDockerd()
    {
        var names = Names();
        await using var served = Serve(names, []);
        var reply = await AskUdpAsync(served.EndPoint, Query(0x1234, "WeB", A));
        Assert.Equal(["WeB"], names.Asked); // as asked: no trailing dot, the case kept
        Assert.NotNull(reply);
        var parsed = Parse(reply);
        Assert.Equal(0x1234, parsed.Header.Id);
        Assert.True(parsed.Header.IsResponse);
        Assert.Equal(DnsConstants.RcodeNoError, parsed.Header.Rcode);
        Assert.True(parsed.Header.Has(DnsHeader.FlagRecursionAvailable));
        Assert.True(parsed.Header.Has(DnsHeader.FlagRecursionDesired));
        Assert.False(parsed.Header.Has(DnsHeader.FlagAuthoritative)); // miekg/dns SetReply leaves AA clear
        Assert.False(parsed.Header.Has(DnsHeader.FlagTruncated));
        Assert.Equal("WeB", DnsName.ToText(parsed.Questions[0].Name)); // the question as asked
        Assert.Equal(["198.18.0.2", "198.19.0.2"], Addresses(reply, parsed));
        Assert.All(parsed.Answers, a =>
        {
            Assert.Equal(EmbeddedDnsServer.AnswerTtl, a.Ttl);
            Assert.Equal(A, a.Type);
            Assert.Equal(DnsConstants.ClassIn, a.Class);
            Assert.Equal("WeB", DnsName.ToText(a.Name));
        });
        // The answers' owner is a compression pointer to the question's name.
        Assert.Equal(0xC00C, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(12 + parsed.Questions[0].Name.Length + 4)));
    }

    [Fact]
    public async Task KnownNameWithoutIPv6GetsAnEmptyNoErrorForAaaaAndMx()
    {
        var upstreamCalled = false;
        await using var upstream = new FakeUpstream { Answer = q => { upstreamCalled = true; return FakeUpstream.Answering("203.0.113.9")(q); } }.Start();
        await using var served = Serve(Names(), [upstream.EndPoint]);
        foreach (var type in new[] { Aaaa, DnsConstants.TypeMx })
        {
            var reply = await AskUdpAsync(served.EndPoint, Query(7, "db", type));
            Assert.NotNull(reply);
            var parsed = Parse(reply);
            Assert.Equal(DnsConstants.RcodeNoError, parsed.Header.Rcode);
            Assert.Empty(parsed.Answers);
            Assert.True(parsed.Header.Has(DnsHeader.FlagRecursionAvailable));
        }
        Assert.False(upstreamCalled, "A question about a known name went upstream.");
    }

    [Fact]
    public async Task AnswersPtrForAKnownAddressAndForwardsOthers()
    {
        await using var upstream = new FakeUpstream { Answer = FakeUpstream.Failing(DnsConstants.RcodeNxDomain) }.Start();
        await using var served = Serve(Names(), [upstream.EndPoint]);
        var reply = await AskUdpAsync(served.EndPoint, Query(9, "2.0.18.198.in-addr.arpa", DnsConstants.TypePtr));
        Assert.NotNull(reply);
        var parsed = Parse(reply);
        var answer = Assert.Single(parsed.Answers);
        Assert.Equal(DnsConstants.TypePtr, answer.Type);
        Assert.Equal(EmbeddedDnsServer.AnswerTtl, answer.Ttl);
        var at = answer.DataOffset;
        Assert.True(DnsName.TryRead(reply, ref at, out var target, out var error), error);
        Assert.Equal("web", DnsName.ToText(target));
        Assert.Empty(upstream.Asked);

        var other = await AskUdpAsync(served.EndPoint, Query(10, "9.9.18.198.in-addr.arpa", DnsConstants.TypePtr));
        Assert.NotNull(other);
        Assert.Equal(DnsConstants.RcodeNxDomain, Parse(other).Header.Rcode);
        Assert.Equal("9.9.18.198.in-addr.arpa", Assert.Single(upstream.Asked).Name);
    }

    [Fact]
    public async Task ForwardsUnknownNamesAndRelaysTheReplyWithTheClientsId()
    {
        await using var upstream = new FakeUpstream { Answer = FakeUpstream.Answering("203.0.113.7") }.Start();
        await using var served = Serve(Names(), [upstream.EndPoint]);
        foreach (var (id, name, type) in new (ushort, string, ushort)[] { (0xBEEF, "example.com", A), (0xBEF0, "web", DnsConstants.TypeTxt) })
        {
            var reply = await AskUdpAsync(served.EndPoint, Query(id, name, type));
            Assert.NotNull(reply);
            var parsed = Parse(reply);
            Assert.Equal(id, parsed.Header.Id);
            Assert.Equal(42u, Assert.Single(parsed.Answers).Ttl); // the upstream's record, relayed as it is
            Assert.Equal(["203.0.113.7"], Addresses(reply, parsed));
        }
        Assert.Equal(["example.com", "web"], upstream.Asked.Select(a => a.Name));
        Assert.All(upstream.Asked, a => Assert.Equal("udp", a.Protocol));
    }

    [Fact]
    public async Task TriesTheUpstreamsInOrderPastFailuresAndSilence()
    {
        await using var failing = new FakeUpstream { Answer = FakeUpstream.Failing(DnsConstants.RcodeServFail) }.Start();
        await using var refusing = new FakeUpstream { Answer = FakeUpstream.Failing(DnsConstants.RcodeRefused) }.Start();
        await using var silent = new FakeUpstream { Answer = FakeUpstream.Silent }.Start();
        await using var good = new FakeUpstream { Answer = FakeUpstream.Answering("203.0.113.8") }.Start();
        await using var served = Serve(Names(), [failing.EndPoint, refusing.EndPoint, silent.EndPoint, good.EndPoint], TimeSpan.FromSeconds(1));
        var reply = await AskUdpAsync(served.EndPoint, Query(11, "example.org", A));
        Assert.NotNull(reply);
        Assert.Equal(["203.0.113.8"], Addresses(reply, Parse(reply)));
        Assert.Single(failing.Asked);
        Assert.Single(refusing.Asked);
        Assert.Single(silent.Asked);
        Assert.Single(good.Asked);
    }

    [Fact]
    public async Task AnswersServfailWithoutUpstreamsOrWhenAllFail()
    {
        await using var silent = new FakeUpstream { Answer = FakeUpstream.Silent }.Start();
        await using var failing = new FakeUpstream { Answer = FakeUpstream.Failing(DnsConstants.RcodeServFail) }.Start();
        await using var none = Serve(Names(), []);
        await using var allFail = Serve(Names(), [silent.EndPoint, failing.EndPoint], TimeSpan.FromSeconds(1));
        foreach (var served in new[] { none, allFail })
        {
            var reply = await AskUdpAsync(served.EndPoint, Query(12, "example.net", A));
            Assert.NotNull(reply);
            var parsed = Parse(reply);
            Assert.Equal(12, parsed.Header.Id);
            Assert.Equal(DnsConstants.RcodeServFail, parsed.Header.Rcode);
            Assert.Equal("example.net", DnsName.ToText(Assert.Single(parsed.Questions).Name));
        }
        Assert.Contains(allFail.Log, l => l.Contains("did not answer example.net within 1 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ASilentUpstreamStallsNoOtherQuery()
    {
        await using var silent = new FakeUpstream { Answer = FakeUpstream.Silent }.Start();
        // An upstream timeout far beyond the test's bound: the forwarded query is still waiting while the others are answered.
        await using var served = Serve(Names(), [silent.EndPoint], TimeSpan.FromMinutes(10));
        using var slowClient = BoundUdp();
        await slowClient.SendToAsync(Query(20, "slow.example", A), SocketFlags.None, served.EndPoint);
        var deadline = Stopwatch.StartNew();
        while (silent.Asked.IsEmpty && deadline.Elapsed < Bound)
            await Task.Delay(20);
        Assert.Single(silent.Asked);
        for (ushort id = 21; id < 26; id++)
        {
            var reply = await AskUdpAsync(served.EndPoint, Query(id, "web", A));
            Assert.NotNull(reply);
            Assert.Equal(id, Parse(reply).Header.Id);
        }
        using var connection = await ConnectTcpAsync(served.TcpEndPoint);
        var overTcp = await AskTcpAsync(connection, Query(26, "db", A));
        Assert.Equal(["198.18.0.3"], Addresses(overTcp, Parse(overTcp)));
        Assert.Null(await ReceiveAsync(slowClient, TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public async Task BoundsTheForwardedQueriesInFlight()
    {
        await using var silent = new FakeUpstream { Answer = FakeUpstream.Silent }.Start();
        await using var served = Serve(Names(), [silent.EndPoint], TimeSpan.FromMinutes(10), maxInFlight: 1);
        using var first = BoundUdp();
        await first.SendToAsync(Query(30, "one.example", A), SocketFlags.None, served.EndPoint);
        var deadline = Stopwatch.StartNew();
        while (silent.Asked.IsEmpty && deadline.Elapsed < Bound)
            await Task.Delay(20);
        var refused = await AskUdpAsync(served.EndPoint, Query(31, "two.example", A));
        Assert.NotNull(refused);
        Assert.Equal(DnsConstants.RcodeRefused, Parse(refused).Header.Rcode);
        var local = await AskUdpAsync(served.EndPoint, Query(32, "web", A));
        Assert.NotNull(local);
        Assert.Equal(DnsConstants.RcodeNoError, Parse(local).Header.Rcode);
        Assert.Single(silent.Asked);
    }

    [Fact]
    public async Task DropsMalformedPacketsAndGoesOn()
    {
        await using var served = Serve(Names(), []);
        using var client = BoundUdp();
        var selfPointer = Query(40, "web", A);
        selfPointer[12] = 0xC0;
        selfPointer[13] = 12; // the question's name points at itself
        var truncated = Query(41, "web", A)[..15];
        var response = Query(42, "web", A, flags: DnsHeader.FlagResponse);
        var pointerSoup = Enumerable.Repeat((byte)0xFF, 512).ToArray();
        new DnsHeader(44, 0, 1, 0, 0, 0).Write(pointerSoup);
        foreach (var bad in new[] { new byte[] { 1, 2, 3 }, truncated, selfPointer, response, pointerSoup })
            await client.SendToAsync(bad, SocketFlags.None, served.EndPoint);
        await client.SendToAsync(Query(43, "web", A), SocketFlags.None, served.EndPoint);
        var reply = await ReceiveAsync(client, Bound);
        Assert.NotNull(reply);
        Assert.Equal(43, Parse(reply).Header.Id); // nothing came back for the bad ones, which went first
        Assert.NotEmpty(served.Log);
    }

    [Fact]
    public async Task RefusesWhatMiekgDnsRefuses()
    {
        await using var served = Serve(Names(), []);
        var twoQuestions = Query(50, "web", A);
        twoQuestions[5] = 2;
        var formErr = await AskUdpAsync(served.EndPoint, twoQuestions);
        Assert.NotNull(formErr);
        Assert.Equal(DnsConstants.RcodeFormErr, Parse(formErr).Header.Rcode);
        Assert.Equal(50, Parse(formErr).Header.Id);

        var status = await AskUdpAsync(served.EndPoint, Query(51, "web", A, flags: 2 << 11));
        Assert.NotNull(status);
        Assert.Equal(DnsConstants.RcodeNotImp, Parse(status).Header.Rcode);
        Assert.Equal(2, Parse(status).Header.Opcode);
    }

    [Fact]
    public async Task TruncatesLongUdpAnswersToTheClientsSize()
    {
        var many = Enumerable.Range(1, 60).Select(i => $"198.18.1.{i}").ToArray();
        await using var served = Serve(new FakeNames().Add("many", many), []);
        var plain = await AskUdpAsync(served.EndPoint, Query(60, "many", A));
        Assert.NotNull(plain);
        Assert.True(plain.Length <= DnsConstants.MinUdpSize, $"{plain.Length} bytes");
        Assert.True(Parse(plain).Header.Has(DnsHeader.FlagTruncated));
        Assert.InRange(Parse(plain).Answers.Count, 1, 59);

        var edns = await AskUdpAsync(served.EndPoint, Query(61, "many", A, ednsSize: 4096));
        Assert.NotNull(edns);
        Assert.False(Parse(edns).Header.Has(DnsHeader.FlagTruncated));
        Assert.Equal(60, Parse(edns).Answers.Count);

        using var connection = await ConnectTcpAsync(served.TcpEndPoint);
        var overTcp = await AskTcpAsync(connection, Query(62, "many", A));
        Assert.False(Parse(overTcp).Header.Has(DnsHeader.FlagTruncated));
        Assert.Equal(many.Order(), Addresses(overTcp, Parse(overTcp)));
    }

    [Fact]
    public async Task ServesSeveralQueriesOnOneTcpConnectionAndForwardsOverTcp()
    {
        await using var upstream = new FakeUpstream { Answer = FakeUpstream.Answering("203.0.113.10") }.Start();
        await using var served = Serve(Names(), [upstream.EndPoint]);
        using var connection = await ConnectTcpAsync(served.TcpEndPoint);
        var local = await AskTcpAsync(connection, Query(70, "db", A));
        Assert.Equal(70, Parse(local).Header.Id);
        Assert.Equal(["198.18.0.3"], Addresses(local, Parse(local)));
        var forwarded = await AskTcpAsync(connection, Query(71, "example.com", A));
        Assert.Equal(71, Parse(forwarded).Header.Id);
        Assert.Equal(["203.0.113.10"], Addresses(forwarded, Parse(forwarded)));
        Assert.Equal(("tcp", "example.com"), upstream.Asked.Select(a => (a.Protocol, a.Name)).Single());
    }

    [Fact]
    public async Task ClosesIdleAndMalformedTcpConnections()
    {
        await using var served = Serve(Names(), [], tcpIdleTimeout: TimeSpan.FromSeconds(1));
        using var idle = await ConnectTcpAsync(served.TcpEndPoint);
        Assert.True(await ClosedByServerAsync(idle), "An idle TCP connection stayed open past the idle timeout.");

        using var halfMessage = await ConnectTcpAsync(served.TcpEndPoint);
        await halfMessage.SendAsync(new byte[] { 0, 40, 1, 2, 3 }, SocketFlags.None); // 40 bytes announced, 3 sent
        Assert.True(await ClosedByServerAsync(halfMessage), "A TCP connection stalled inside a message stayed open.");

        using var garbage = await ConnectTcpAsync(served.TcpEndPoint);
        var loop = Query(80, "web", A);
        loop[12] = 0xC0;
        loop[13] = 12;
        await DnsTcp.WriteAsync(garbage, loop, CancellationToken.None);
        Assert.True(await ClosedByServerAsync(garbage), "A TCP connection that sent a malformed query stayed open.");

        using var after = await ConnectTcpAsync(served.TcpEndPoint);
        Assert.Equal(81, Parse(await AskTcpAsync(after, Query(81, "web", A))).Header.Id);
    }

    [Fact]
    public async Task DisposeClosesTheSocketsItWasGiven()
    {
        var served = Serve(Names(), []);
        using var connection = await ConnectTcpAsync(served.TcpEndPoint);
        await AskTcpAsync(connection, Query(90, "web", A));
        await served.DisposeAsync();
        Assert.True(served.Udp.SafeHandle.IsClosed);
        Assert.True(served.Tcp.SafeHandle.IsClosed);
        Assert.True(await ClosedByServerAsync(connection), "An open TCP connection survived the server's dispose.");
    }

    [SkippableFact]
    public async Task BusyboxNslookupResolvesThroughTheServer()
    {
        Skip.IfNot(File.Exists("/bin/busybox"), "/bin/busybox (busybox-static) is not installed.");
        await using var upstream = new FakeUpstream { Answer = FakeUpstream.Answering("203.0.113.11") }.Start();
        await using var served = Serve(Names(), [upstream.EndPoint]);
        var port = ((IPEndPoint)served.EndPoint).Port;
        var (known, knownExit) = await NslookupAsync("web", $"127.0.0.1:{port}");
        Assert.Contains("Address: 198.18.0.2", known, StringComparison.Ordinal);
        Assert.Contains("Address: 198.19.0.2", known, StringComparison.Ordinal);
        Assert.Equal(0, knownExit);
        var (reverse, _) = await NslookupAsync("198.18.0.2", $"127.0.0.1:{port}");
        Assert.Contains("name = web", reverse, StringComparison.Ordinal);
        var (forwarded, _) = await NslookupAsync("example.com", $"127.0.0.1:{port}");
        Assert.Contains("Address: 203.0.113.11", forwarded, StringComparison.Ordinal);
    }

    static async Task<(string Output, int Exit)> NslookupAsync(string name, string server)
    {
        var start = new ProcessStartInfo("/bin/busybox", ["nslookup", name, server]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Bound);
        return (await output + await error, process.ExitCode);
    }
}
