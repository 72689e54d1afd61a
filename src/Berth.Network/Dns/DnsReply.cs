using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Berth.Network.Dns;

/// <summary>One answer record: the owner is always the question's name (a pointer to it), class IN.</summary>
public readonly record struct DnsAnswer(ushort Type, uint Ttl, byte[] Data);

/// <summary>Builds the server's own replies with the header bits dockerd's (miekg/dns SetReply) replies carry.</summary>
public static class DnsReply
{
    /// <summary>
    /// A reply to <paramref name="question"/>: the query's id, opcode, RD and CD, AA clear, RA as asked, the question
    /// echoed as sent, and as many answers as fit in <paramref name="maxSize"/> bytes (TC set when some were left off
    /// and <paramref name="setTruncated"/>, for UDP).
    /// </summary>
    public static byte[] Build(DnsHeader query, DnsQuestion question, int rcode, bool recursionAvailable, IReadOnlyList<DnsAnswer> answers,
        int maxSize, bool setTruncated)
    {
        var questionLength = question.Name.Length + 4;
        var size = DnsConstants.HeaderLength + questionLength;
        var fitting = 0;
        foreach (var answer in answers)
        {
            var recordLength = 2 + 10 + answer.Data.Length;
            if (size + recordLength > maxSize)
                break;
            size += recordLength;
            fitting++;
        }
        var flags = ReplyFlags(query, rcode);
        if (recursionAvailable)
            flags |= DnsHeader.FlagRecursionAvailable;
        if (fitting < answers.Count && setTruncated)
            flags |= DnsHeader.FlagTruncated;
        var reply = new byte[size];
        new DnsHeader(query.Id, flags, 1, (ushort)fitting, 0, 0).Write(reply);
        var at = DnsConstants.HeaderLength;
        question.Name.CopyTo(reply, at);
        at += question.Name.Length;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(at), question.Type);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(at + 2), question.Class);
        at += 4;
        for (var i = 0; i < fitting; i++)
        {
            var answer = answers[i];
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(at), 0xC000 | DnsConstants.HeaderLength); // the question's name
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(at + 2), answer.Type);
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(at + 4), DnsConstants.ClassIn);
            BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(at + 6), answer.Ttl);
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(at + 10), (ushort)answer.Data.Length);
            answer.Data.CopyTo(reply, at + 12);
            at += 12 + answer.Data.Length;
        }
        return reply;
    }

    /// <summary>A header-only reply (FORMERR, NOTIMP) for a query whose question could not be used.</summary>
    public static byte[] HeaderOnly(DnsHeader query, int rcode)
    {
        var reply = new byte[DnsConstants.HeaderLength];
        new DnsHeader(query.Id, ReplyFlags(query, rcode), 0, 0, 0, 0).Write(reply);
        return reply;
    }

    static ushort ReplyFlags(DnsHeader query, int rcode) =>
        (ushort)(DnsHeader.FlagResponse | (query.Opcode << 11) | (query.Flags & (DnsHeader.FlagRecursionDesired | DnsHeader.FlagCheckingDisabled)) | (rcode & 0xF));

    /// <summary>
    /// The address a reverse-lookup name stands for: "4.3.2.1.in-addr.arpa" (four decimal labels) or the 32 nibbles of
    /// ip6.arpa; null for anything else (such a PTR query is forwarded).
    /// </summary>
    public static IPAddress? ParseReverseName(string name)
    {
        var labels = name.Split('.');
        if (labels.Length == 6 && IsSuffix(labels, "in-addr", "arpa"))
        {
            var bytes = new byte[4];
            for (var i = 0; i < 4; i++)
            {
                var label = labels[3 - i];
                if (label.Length is 0 or > 3 || (label.Length > 1 && label[0] == '0') || !label.All(char.IsAsciiDigit))
                    return null;
                var value = int.Parse(label, System.Globalization.CultureInfo.InvariantCulture);
                if (value > 255)
                    return null;
                bytes[i] = (byte)value;
            }
            return new IPAddress(bytes);
        }
        if (labels.Length == 34 && IsSuffix(labels, "ip6", "arpa"))
        {
            var bytes = new byte[16];
            for (var i = 0; i < 32; i++)
            {
                var label = labels[31 - i];
                if (label.Length != 1 || !char.IsAsciiHexDigit(label[0]))
                    return null;
                var nibble = Convert.ToByte(label, 16);
                bytes[i / 2] |= (byte)(i % 2 == 0 ? nibble << 4 : nibble);
            }
            return new IPAddress(bytes);
        }
        return null;
    }

    static bool IsSuffix(string[] labels, string second, string last) =>
        labels[^2].Equals(second, StringComparison.OrdinalIgnoreCase) && labels[^1].Equals(last, StringComparison.OrdinalIgnoreCase);

    /// <summary>The record type an address answers: A for IPv4, AAAA for IPv6.</summary>
    public static ushort TypeOf(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? DnsConstants.TypeAaaa : DnsConstants.TypeA;
}
