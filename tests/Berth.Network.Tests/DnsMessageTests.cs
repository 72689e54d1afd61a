using System.Net;
using Berth.Network.Dns;
using static Berth.Network.Tests.DnsTestKit;

namespace Berth.Network.Tests;

/// <summary>The DNS message parser on good input and on malformed input: it refuses, it never throws, it never loops.</summary>
public class DnsMessageTests
{
    /// <summary>A reply as a compressing server writes it: the question, an A answer pointing at it, and a CNAME whose data points into it.</summary>
    static byte[] CompressedReply()
    {
        var query = Query(0x4242, "www.example.com", DnsConstants.TypeA);
        var reply = DnsReply.Build(Parse(query).Header, Parse(query).Questions[0], 0, true,
            [new DnsAnswer(DnsConstants.TypeA, 30, [192, 0, 2, 1]), new DnsAnswer(DnsConstants.TypeCname, 30, [3, (byte)'c', (byte)'d', (byte)'n', 0xC0, 16])], 65535, false);
        return reply;
    }

    [Fact]
    public void ParsesAQueryAndAReplyWithCompression()
    {
        var query = Parse(Query(7, "Web.Example", DnsConstants.TypeAaaa, ednsSize: 1232));
        Assert.Equal(7, query.Header.Id);
        Assert.Equal("Web.Example", DnsName.ToText(query.Questions[0].Name));
        Assert.Equal(DnsConstants.TypeAaaa, query.Questions[0].Type);
        Assert.Equal(1232, query.EdnsUdpSize);

        var bytes = CompressedReply();
        var reply = Parse(bytes);
        Assert.Equal(2, reply.Answers.Count);
        Assert.All(reply.Answers, a => Assert.Equal("www.example.com", DnsName.ToText(a.Name)));
        var at = reply.Answers[1].DataOffset;
        Assert.True(DnsName.TryRead(bytes, ref at, out var target, out var error), error);
        Assert.Equal("cdn.example.com", DnsName.ToText(target));
        Assert.Equal(reply.Answers[1].DataOffset + reply.Answers[1].DataLength, at);
    }

    [Fact]
    public void RefusesEveryTruncationOfAReply()
    {
        var bytes = CompressedReply();
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(DnsMessage.TryParse(bytes.AsSpan(0, length), out var parsed, out var error), $"{length} bytes parsed");
            Assert.Null(parsed);
            Assert.False(string.IsNullOrEmpty(error));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 12 }, "which is not before the labels it ends")] // points at itself
    [InlineData(new byte[] { 0xC0, 14, 0xC0, 12 }, "which is not before the labels it ends")] // forward pointer
    [InlineData(new byte[] { 1, (byte)'a', 0xC0, 12 }, "which is not before the labels it ends")] // a label, then back to its start: a loop
    [InlineData(new byte[] { 0xC0, 2 }, "which is not before the labels it ends")] // into the header, whose bytes 2-3 point back to byte 12
    [InlineData(new byte[] { 0x40, 0 }, "reserved type 0x40")]
    [InlineData(new byte[] { 0x80, 0 }, "reserved type 0x80")]
    [InlineData(new byte[] { 5, (byte)'a', (byte)'b' }, "runs past the end")]
    [InlineData(new byte[] { 0xC0 }, "runs past the end")]
    public void RefusesBadNamesInTheQuestion(byte[] name, string reason)
    {
        var message = new byte[12 + name.Length];
        new DnsHeader(1, 0xC00C, 1, 0, 0, 0).Write(message); // flags that read as a pointer to the question
        name.CopyTo(message, 12);
        Assert.False(DnsMessage.TryParse(message, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.StartsWith("question 1: the name at byte 12", error, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesANameLongerThan255Bytes()
    {
        var message = new byte[12 + 4 * 64 + 1 + 4];
        new DnsHeader(1, 0, 1, 0, 0, 0).Write(message);
        for (var i = 0; i < 4; i++)
        {
            message[12 + i * 64] = 63;
            message.AsSpan(13 + i * 64, 63).Fill((byte)'a');
        }
        Assert.False(DnsMessage.TryParse(message, out _, out var error));
        Assert.Contains("longer than 255 bytes", error, StringComparison.Ordinal);
    }

    [Fact]
    public void SurvivesRandomCorruption()
    {
        // Seeded, so a failure is repeatable: flipped bytes, cut lengths and pointer bytes sprinkled in.
        var random = new Random(20261206);
        var good = CompressedReply();
        for (var round = 0; round < 50_000; round++)
        {
            var bytes = good[..random.Next(good.Length + 1)];
            for (var flips = random.Next(1, 4); flips > 0 && bytes.Length > 0; flips--)
                bytes[random.Next(bytes.Length)] = random.Next(4) == 0 ? (byte)(0xC0 | random.Next(64)) : (byte)random.Next(256);
            try
            {
                if (DnsMessage.TryParse(bytes, out var parsed, out _))
                    Assert.NotNull(parsed);
            }
            catch (Exception e)
            {
                Assert.Fail($"Round {round} threw on {Convert.ToHexString(bytes)}: {e}");
            }
        }
    }

    [Theory]
    [InlineData("2.0.18.198.in-addr.arpa", "198.18.0.2")]
    [InlineData("2.0.18.198.IN-ADDR.ARPA", "198.18.0.2")]
    [InlineData("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "fd00::1")]
    [InlineData("0.18.198.in-addr.arpa", null)]
    [InlineData("256.0.18.198.in-addr.arpa", null)]
    [InlineData("02.0.18.198.in-addr.arpa", null)]
    [InlineData("web.in-addr.arpa", null)]
    [InlineData("2.0.18.198.example", null)]
    public void ParsesReverseNames(string name, string? address) =>
        Assert.Equal(address is null ? null : IPAddress.Parse(address), DnsReply.ParseReverseName(name));

    [Fact]
    public void TextOfNamesKeepsToContainerNameCharacters()
    {
        Assert.Equal("my_app-1.net", DnsName.ToText(DnsName.FromText("my_app-1.net.")));
        Assert.Equal("", DnsName.ToText([0]));
        Assert.Null(DnsName.ToText([3, (byte)'a', (byte)'.', (byte)'b', 0])); // a dot inside a label
        Assert.Null(DnsName.ToText([1, 0xE9, 0]));
        Assert.Null(DnsName.FromText("a..b"));
        Assert.Null(DnsName.FromText(new string('a', 64)));
        Assert.True(DnsName.EqualsIgnoreCase(DnsName.FromText("WEB.net"), DnsName.FromText("web.NET")));
    }
}
