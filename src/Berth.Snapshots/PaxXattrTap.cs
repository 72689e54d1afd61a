using System.Text;

namespace Berth.Snapshots;

/// <summary>
/// Watches the tar bytes on their way to System.Formats.Tar and keeps the raw values of SCHILY.xattr.* PAX
/// records, one set per entry in archive order. TarReader hands PAX values over as decoded UTF-8 text, which
/// alters binary values that are not valid UTF-8 (a security.capability with cap_setuid has byte 0x80); these
/// raw bytes are what gets written instead.
/// </summary>
sealed class PaxXattrTap(Stream inner) : ReadOnlyForwardStream
{
    const int Block = 512;
    const string XattrPrefix = "SCHILY.xattr.";
    readonly Queue<Dictionary<string, byte[]>?> _entries = new();
    readonly byte[] _header = new byte[Block];
    int _headerFill;
    long _skip;                 // data and padding bytes still to pass
    MemoryStream? _paxData;     // the data of an 'x' header being collected
    long _paxRemaining;
    Dictionary<string, byte[]>? _pendingXattrs;
    long? _pendingSize;

    /// <summary>The raw xattrs of the next entry TarReader returns (other than a global header); null if none.</summary>
    public Dictionary<string, byte[]>? NextEntryXattrs() => _entries.TryDequeue(out var x) ? x : null;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        Observe(buffer[..n]);
        return n;
    }

    void Observe(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_paxData is not null)
            {
                int take = (int)Math.Min(_paxRemaining, data.Length);
                _paxData.Write(data[..take]);
                _paxRemaining -= take;
                data = data[take..];
                if (_paxRemaining == 0)
                {
                    ParsePax(_paxData.ToArray());
                    _paxData = null;
                }
                continue;
            }
            if (_skip > 0)
            {
                int take = (int)Math.Min(_skip, data.Length);
                _skip -= take;
                data = data[take..];
                continue;
            }
            int want = Math.Min(Block - _headerFill, data.Length);
            data[..want].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += want;
            data = data[want..];
            if (_headerFill == Block)
            {
                _headerFill = 0;
                OnHeader();
            }
        }
    }

    void OnHeader()
    {
        if (_header.AsSpan().IndexOfAnyExcept((byte)0) < 0) return; // end-of-archive blocks
        byte type = _header[156];
        long size = ParseSize(_header.AsSpan(124, 12));
        long padded(long s) => (s + Block - 1) / Block * Block;
        switch ((char)type)
        {
            case 'x':
                _paxData = new MemoryStream();
                _paxRemaining = size;
                _skip = padded(size) - size;
                if (size == 0) { ParsePax([]); _paxData = null; }
                return;
            case 'g' or 'L' or 'K':
                _skip = padded(size);
                return;
            default:
                if (_pendingSize is long s) size = s;
                _entries.Enqueue(_pendingXattrs);
                _pendingXattrs = null;
                _pendingSize = null;
                _skip = padded(size);
                return;
        }
    }

    // Records are "LEN KEY=VALUE\n", LEN counting the whole record; values may hold any byte.
    void ParsePax(byte[] data)
    {
        int pos = 0;
        while (pos < data.Length)
        {
            int space = Array.IndexOf(data, (byte)' ', pos);
            if (space < 0 || !int.TryParse(Encoding.ASCII.GetString(data, pos, space - pos), out int len) || len <= 0 || pos + len > data.Length)
                return; // TarReader reports a malformed header itself
            var record = data.AsSpan(space + 1, pos + len - space - 2);
            int eq = record.IndexOf((byte)'=');
            if (eq > 0)
            {
                string key = Encoding.UTF8.GetString(record[..eq]);
                if (key.StartsWith(XattrPrefix, StringComparison.Ordinal))
                    (_pendingXattrs ??= new(StringComparer.Ordinal))[key[XattrPrefix.Length..]] = record[(eq + 1)..].ToArray();
                else if (key == "size" && long.TryParse(Encoding.ASCII.GetString(record[(eq + 1)..]), out long size))
                    _pendingSize = size;
            }
            pos += len;
        }
    }

    // Octal, or base-256 (high bit of the first byte set) for sizes of 8 GiB and more.
    static long ParseSize(ReadOnlySpan<byte> field)
    {
        if ((field[0] & 0x80) != 0)
        {
            long v = 0;
            foreach (var b in field[1..]) v = (v << 8) | b;
            return v;
        }
        long octal = 0;
        bool digits = false;
        foreach (var b in field)
        {
            if (b is >= (byte)'0' and <= (byte)'7')
            {
                octal = octal * 8 + (b - '0');
                digits = true;
            }
            else if (digits) break; // the NUL or space after the number; leading spaces are skipped
        }
        return octal;
    }

}
