using System.Text;

namespace Berth.Snapshots;

/// <summary>
/// Watches the tar bytes on their way to System.Formats.Tar. It keeps the raw values of SCHILY.xattr.* PAX
/// records, one set per entry in archive order: TarReader hands PAX values over as decoded UTF-8 text, which
/// alters binary values that are not valid UTF-8 (a security.capability with cap_setuid has byte 0x80); these
/// raw bytes are what gets written instead. It also knows where in the archive's structure the bytes seen so
/// far stop (<see cref="Where"/>): TarReader throws the same EndOfStreamException whether a stream ends cleanly
/// between entries or inside one, and only the structure tells the two apart.
/// </summary>
sealed class PaxXattrTap(Stream inner) : ReadOnlyForwardStream
{
    const int Block = 512;
    const string XattrPrefix = "SCHILY.xattr.";
    readonly Queue<Dictionary<string, byte[]>?> _entries = new();
    readonly byte[] _header = new byte[Block];
    int _headerFill;
    long _dataSize, _dataRemaining;  // the data of the entry whose header came last
    long _padding;                   // the zero bytes that round the data up to a block
    long _metaRemaining;             // the data of a 'g' or 'K' header, or the unused tail of an 'x' or 'L' one
    MemoryStream? _extended;         // the data of an 'x' or 'L' header being collected
    char _extendedType;
    long _extendedRemaining;
    bool _metaPending;               // an 'x', 'L' or 'K' header came and the entry it describes did not yet
    Dictionary<string, byte[]>? _pendingXattrs;
    long? _pendingSize;
    string? _pendingName;

    /// <summary>The raw xattrs of the next entry TarReader returns (other than a global header); null if none.</summary>
    public Dictionary<string, byte[]>? NextEntryXattrs() => _entries.TryDequeue(out var x) ? x : null;

    /// <summary>True once the stream below returned no more bytes.</summary>
    public bool Ended { get; private set; }

    /// <summary>Where the bytes seen so far stop, in terms of the archive's structure.</summary>
    public TarStreamPoint Where =>
        _extended is not null || _metaRemaining > 0 || _metaPending || _headerFill > 0
            ? new TarStreamPoint(TarStreamSection.Header, _headerFill, _pendingName ?? PartialHeaderName())
        : _dataRemaining > 0 ? new TarStreamPoint(TarStreamSection.Data, _dataSize - _dataRemaining, null, _dataSize)
        : new TarStreamPoint(_padding > 0 ? TarStreamSection.Padding : TarStreamSection.BetweenEntries, 0, null);

    // The name field (bytes 0-99) of an entry's own header, once its type flag (byte 156) shows it is not a
    // PAX or GNU meta header, whose name field holds a made-up name.
    string? PartialHeaderName()
    {
        if (_headerFill <= 156 || (char)_header[156] is 'x' or 'g' or 'L' or 'K') return null;
        var field = _header.AsSpan(0, 100);
        int nul = field.IndexOf((byte)0);
        return nul == 0 ? null : Encoding.UTF8.GetString(nul < 0 ? field : field[..nul]);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        if (n == 0 && !buffer.IsEmpty) Ended = true;
        Observe(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n == 0 && !buffer.IsEmpty) Ended = true;
        Observe(buffer.Span[..n]);
        return n;
    }

    // A request body refuses synchronous reads: Stream's default ReadAsync would end up in Read.
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    static int Take(ref long remaining, int available)
    {
        int take = (int)Math.Min(remaining, available);
        remaining -= take;
        return take;
    }

    void Observe(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_extended is not null)
            {
                int take = Take(ref _extendedRemaining, data.Length);
                _extended.Write(data[..take]);
                data = data[take..];
                if (_extendedRemaining == 0) EndExtended();
                continue;
            }
            if (_metaRemaining > 0) { data = data[Take(ref _metaRemaining, data.Length)..]; continue; }
            if (_dataRemaining > 0) { data = data[Take(ref _dataRemaining, data.Length)..]; continue; }
            if (_padding > 0) { data = data[Take(ref _padding, data.Length)..]; continue; }
            int want = Math.Min(Block - _headerFill, data.Length);
            data[..want].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += want;
            data = data[want..];
            if (_headerFill == Block)
            {
                OnHeader();
                _headerFill = 0;
            }
        }
    }

    static long Padded(long size) => (size + Block - 1) / Block * Block;

    void OnHeader()
    {
        if (_header.AsSpan().IndexOfAnyExcept((byte)0) < 0) return; // end-of-archive blocks
        char type = (char)_header[156];
        long size = ParseSize(_header.AsSpan(124, 12));
        switch (type)
        {
            case 'x' or 'L':
                _metaPending = true;
                _extendedType = type;
                _extended = new MemoryStream();
                _extendedRemaining = size;
                _metaRemaining = Padded(size) - size;
                if (size == 0) EndExtended();
                return;
            case 'g' or 'K':
                _metaPending |= type == 'K';
                _metaRemaining = Padded(size);
                return;
            default:
                if (_pendingSize is long s) size = s;
                _entries.Enqueue(_pendingXattrs);
                _pendingXattrs = null;
                _pendingSize = null;
                _pendingName = null;
                _metaPending = false;
                _dataSize = _dataRemaining = size;
                _padding = Padded(size) - size;
                return;
        }
    }

    void EndExtended()
    {
        var data = _extended!.ToArray();
        _extended = null;
        if (_extendedType == 'x') ParsePax(data);
        else
        {
            int nul = Array.IndexOf(data, (byte)0);
            _pendingName = Encoding.UTF8.GetString(data, 0, nul < 0 ? data.Length : nul);
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
                else if (key == "path")
                    _pendingName = Encoding.UTF8.GetString(record[(eq + 1)..]);
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

enum TarStreamSection
{
    /// <summary>Right after an entry's data and padding (or at the very start): a clean place to end.</summary>
    BetweenEntries,
    /// <summary>After an entry's whole data, inside the zero padding that rounds it to 512 bytes.</summary>
    Padding,
    /// <summary>Inside an entry's header blocks, its PAX / GNU long-name headers included.</summary>
    Header,
    /// <summary>Inside an entry's data.</summary>
    Data,
}

/// <param name="Done">Header: bytes of the current header block seen; Data: data bytes seen.</param>
/// <param name="Name">Header: the entry's name if its PAX path, GNU long name or ustar name field arrived.</param>
/// <param name="DataSize">Data: the entry's data size.</param>
readonly record struct TarStreamPoint(TarStreamSection Section, long Done, string? Name, long DataSize = 0);
