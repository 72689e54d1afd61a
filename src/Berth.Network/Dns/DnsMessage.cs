using System.Buffers.Binary;
using System.Text;

namespace Berth.Network.Dns;

/// <summary>DNS constants of RFC 1035 and later the server uses.</summary>
public static class DnsConstants
{
    public const ushort TypeA = 1, TypeNs = 2, TypeCname = 5, TypePtr = 12, TypeMx = 15, TypeTxt = 16, TypeAaaa = 28,
        TypeSrv = 33, TypeOpt = 41;
    public const ushort ClassIn = 1;
    public const int RcodeNoError = 0, RcodeFormErr = 1, RcodeServFail = 2, RcodeNxDomain = 3, RcodeNotImp = 4,
        RcodeRefused = 5;
    public const int HeaderLength = 12;
    /// <summary>The largest UDP reply a client gets without EDNS (RFC 1035 §4.2.1).</summary>
    public const int MinUdpSize = 512;
    public const int MaxNameLength = 255;
}

/// <summary>The fixed 12-byte header of a DNS message.</summary>
public readonly record struct DnsHeader(ushort Id, ushort Flags, ushort QuestionCount, ushort AnswerCount, ushort AuthorityCount,
    ushort AdditionalCount)
{
    public const ushort FlagResponse = 0x8000, FlagAuthoritative = 0x0400, FlagTruncated = 0x0200,
        FlagRecursionDesired = 0x0100, FlagRecursionAvailable = 0x0080, FlagCheckingDisabled = 0x0010;

    public bool IsResponse => (Flags & FlagResponse) != 0;
    public int Opcode => (Flags >> 11) & 0xF;
    public int Rcode => Flags & 0xF;
    public bool Has(ushort flag) => (Flags & flag) == flag;

    public static bool TryRead(ReadOnlySpan<byte> message, out DnsHeader header)
    {
        header = default;
        if (message.Length < DnsConstants.HeaderLength)
            return false;
        header = new DnsHeader(BinaryPrimitives.ReadUInt16BigEndian(message), BinaryPrimitives.ReadUInt16BigEndian(message[2..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[4..]), BinaryPrimitives.ReadUInt16BigEndian(message[6..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[8..]), BinaryPrimitives.ReadUInt16BigEndian(message[10..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Id);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], QuestionCount);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], AnswerCount);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], AuthorityCount);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], AdditionalCount);
    }
}

/// <summary>A question: the name in uncompressed wire form (length-prefixed labels ending in a zero byte), type, class.</summary>
public sealed record DnsQuestion(byte[] Name, ushort Type, ushort Class)
{
    public bool SameAs(DnsQuestion other) => Type == other.Type && Class == other.Class && DnsName.EqualsIgnoreCase(Name, other.Name);
}

/// <summary>A resource record; its data stays in the message (at DataOffset) since names in it may be compressed.</summary>
public readonly record struct DnsRecord(byte[] Name, ushort Type, ushort Class, uint Ttl, int DataOffset, ushort DataLength);

/// <summary>A parsed DNS message. Parsing checks every section against the counts and the message's end.</summary>
public sealed class DnsMessage
{
    public required DnsHeader Header { get; init; }
    public required IReadOnlyList<DnsQuestion> Questions { get; init; }
    public required IReadOnlyList<DnsRecord> Answers { get; init; }
    public required IReadOnlyList<DnsRecord> Authorities { get; init; }
    public required IReadOnlyList<DnsRecord> Additionals { get; init; }

    /// <summary>The UDP payload size the sender's EDNS OPT record offers (RFC 6891), or null without one.</summary>
    public int? EdnsUdpSize => Additionals.Where(r => r.Type == DnsConstants.TypeOpt).Select(r => (int?)r.Class).FirstOrDefault();

    /// <summary>Parses a whole message; false with a sentence naming what is wrong and where on malformed input.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out DnsMessage? parsed, out string error)
    {
        parsed = null;
        if (!DnsHeader.TryRead(message, out var header))
        {
            error = $"the message is {message.Length} bytes, shorter than the {DnsConstants.HeaderLength}-byte DNS header";
            return false;
        }
        var offset = DnsConstants.HeaderLength;
        var questions = new List<DnsQuestion>(Math.Min((int)header.QuestionCount, 4));
        for (var i = 0; i < header.QuestionCount; i++)
        {
            if (!TryReadOwner(message, ref offset, $"question {i + 1}", 4, "type and class", out var name, out error))
                return false;
            questions.Add(new DnsQuestion(name, BinaryPrimitives.ReadUInt16BigEndian(message[offset..]), BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..])));
            offset += 4;
        }
        if (!TryReadRecords(message, ref offset, header.AnswerCount, "answer", out var answers, out error)
            || !TryReadRecords(message, ref offset, header.AuthorityCount, "authority record", out var authorities, out error)
            || !TryReadRecords(message, ref offset, header.AdditionalCount, "additional record", out var additionals, out error))
            return false;
        parsed = new DnsMessage { Header = header, Questions = questions, Answers = answers, Authorities = authorities, Additionals = additionals };
        error = "";
        return true;
    }

    /// <summary>Reads the name a question or record begins with and checks its <paramref name="fixedLength"/> bytes of fields follow.</summary>
    static bool TryReadOwner(ReadOnlySpan<byte> message, ref int offset, string what, int fixedLength, string fields, out byte[] name, out string error)
    {
        if (!DnsName.TryRead(message, ref offset, out name, out error))
        {
            error = $"{what}: {error}";
            return false;
        }
        if (offset + fixedLength > message.Length)
        {
            error = $"{what}: its {fields} at byte {offset} run past the end of the message ({message.Length} bytes)";
            return false;
        }
        return true;
    }

    static bool TryReadRecords(ReadOnlySpan<byte> message, ref int offset, int count, string what, out List<DnsRecord> records, out string error)
    {
        records = new List<DnsRecord>(Math.Min(count, 16));
        for (var i = 0; i < count; i++)
        {
            if (!TryReadOwner(message, ref offset, $"{what} {i + 1}", 10, "fixed fields", out var name, out error))
                return false;
            var length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            if (offset + 10 + length > message.Length)
            {
                error = $"{what} {i + 1}: its {length} bytes of data at byte {offset + 10} run past the end of the message ({message.Length} bytes)";
                return false;
            }
            records.Add(new DnsRecord(name, BinaryPrimitives.ReadUInt16BigEndian(message[offset..]), BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]),
                BinaryPrimitives.ReadUInt32BigEndian(message[(offset + 4)..]), offset + 10, length));
            offset += 10 + length;
        }
        error = "";
        return true;
    }
}

/// <summary>Domain names on the wire (RFC 1035 §3.1, §4.1.4), read with compression and written without.</summary>
public static class DnsName
{
    /// <summary>
    /// Reads the name at <paramref name="offset"/> (advanced past it) into its uncompressed wire form. A compression
    /// pointer must point before the start of the stretch of labels it ends (the message's earlier names), so every jump
    /// goes further back and a loop is impossible; labels of the reserved 01/10 types, names over 255 bytes and names
    /// running past the end are refused.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, ref int offset, out byte[] name, out string error)
    {
        name = [];
        Span<byte> buffer = stackalloc byte[DnsConstants.MaxNameLength];
        var length = 0;
        var position = offset;
        var stretchStart = offset;
        var end = -1; // where the caller resumes: after the first pointer, or after the final zero byte
        while (true)
        {
            if (position >= message.Length)
            {
                error = $"the name at byte {offset} runs past the end of the message ({message.Length} bytes)";
                return false;
            }
            var labelLength = message[position];
            if ((labelLength & 0xC0) == 0xC0)
            {
                if (position + 1 >= message.Length)
                {
                    error = $"the name at byte {offset} runs past the end of the message ({message.Length} bytes)";
                    return false;
                }
                var target = ((labelLength & 0x3F) << 8) | message[position + 1];
                if (target >= stretchStart)
                {
                    error = $"the name at byte {offset} has a compression pointer at byte {position} to byte {target}, which is not before the labels it ends (a loop or a forward reference)";
                    return false;
                }
                if (end < 0)
                    end = position + 2;
                position = stretchStart = target;
                continue;
            }
            if ((labelLength & 0xC0) != 0)
            {
                error = $"the name at byte {offset} has a label of the reserved type 0x{labelLength & 0xC0:x2} at byte {position}";
                return false;
            }
            if (length + 1 + labelLength > DnsConstants.MaxNameLength)
            {
                error = $"the name at byte {offset} is longer than {DnsConstants.MaxNameLength} bytes";
                return false;
            }
            if (position + 1 + labelLength > message.Length)
            {
                error = $"the name at byte {offset} runs past the end of the message ({message.Length} bytes)";
                return false;
            }
            message.Slice(position, 1 + labelLength).CopyTo(buffer[length..]);
            length += 1 + labelLength;
            position += 1 + labelLength;
            if (labelLength == 0)
                break;
        }
        offset = end < 0 ? position : end;
        name = buffer[..length].ToArray();
        error = "";
        return true;
    }

    /// <summary>
    /// The name as text without the trailing dot ("web.example"), or null when a label holds anything but ASCII letters,
    /// digits, '-' and '_' (container names and aliases never do, and a '.' inside a label would read as two labels).
    /// The root name gives "".
    /// </summary>
    public static string? ToText(ReadOnlySpan<byte> wire)
    {
        var text = new StringBuilder(wire.Length);
        for (var i = 0; i < wire.Length && wire[i] != 0; i += 1 + wire[i])
        {
            if (text.Length > 0)
                text.Append('.');
            foreach (var b in wire.Slice(i + 1, wire[i]))
            {
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_'))
                    return null;
                text.Append((char)b);
            }
        }
        return text.ToString();
    }

    /// <summary>The wire form of a dotted name (a trailing dot is allowed), or null when it is not a valid name.</summary>
    public static byte[]? FromText(string text)
    {
        var trimmed = text.EndsWith('.') ? text[..^1] : text;
        if (trimmed.Length == 0 || trimmed.Length + 2 > DnsConstants.MaxNameLength || !Ascii.IsValid(trimmed))
            return null;
        var wire = new byte[trimmed.Length + 2];
        var at = 0;
        foreach (var label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > 63)
                return null;
            wire[at] = (byte)label.Length;
            Encoding.ASCII.GetBytes(label, wire.AsSpan(at + 1));
            at += 1 + label.Length;
        }
        return wire;
    }

    /// <summary>Compares two uncompressed wire names ignoring ASCII case (RFC 4343).</summary>
    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
            return false;
        for (var i = 0; i < a.Length; i++)
            if (a[i] != b[i] && char.ToLowerInvariant((char)a[i]) != char.ToLowerInvariant((char)b[i]))
                return false;
        return true;
    }
}
