using System.Formats.Tar;

namespace Berth.Snapshots;

/// <summary>
/// The entries of a layer tar in archive order, each with its raw SCHILY.xattr values. The layer ends at tar's
/// end-of-archive marker or, as with Go's archive/tar (so docker and containerd), where the stream itself ends
/// between two entries: umoci 0.4.7's "insert" writes layers that stop right after the last entry's data, not
/// even padded to 512 bytes. A stream that ends inside an entry's header or data is refused, naming the entry.
/// Unlike Go, a PAX or GNU long-name header with no entry header after it counts as a cut header, not an end:
/// the entry it describes is incomplete. Image import and load read their tars with it too, so that they end
/// where docker's do.
/// </summary>
public sealed class LayerTarReader : IDisposable
{
    readonly PaxXattrTap _tap;
    readonly TarReader _reader;
    readonly string _what;
    string? _lastName;

    /// <param name="tar">Read forward only; left open.</param>
    /// <param name="what">What the tar is, as error messages start: "layer tar", "tar".</param>
    public LayerTarReader(Stream tar, string what = "layer tar")
    {
        _tap = new PaxXattrTap(tar);
        _reader = new TarReader(_tap, leaveOpen: true);
        _what = what;
    }

    /// <summary>Entries returned so far, global PAX headers included.</summary>
    public int Count { get; private set; }

    /// <summary>The raw xattrs of the entry <see cref="Next"/> returned last; null if it has none.</summary>
    public Dictionary<string, byte[]>? RawXattrs { get; private set; }

    /// <summary>The next entry, its data unread (<c>copyData: false</c>); null at the end of the tar.</summary>
    /// <exception cref="InvalidLayerException">The tar is cut inside an entry or corrupt; the inner exception is TarReader's.</exception>
    public TarEntry? Next()
    {
        try
        {
            return Returned(_reader.GetNextEntry(copyData: false));
        }
        catch (Exception e) when (IsTarError(e))
        {
            return Failed(e);
        }
    }

    /// <inheritdoc cref="Next"/>
    public async ValueTask<TarEntry?> NextAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return Returned(await _reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (IsTarError(e))
        {
            return Failed(e);
        }
    }

    static bool IsTarError(Exception e) => e is InvalidDataException or FormatException or EndOfStreamException;

    TarEntry? Returned(TarEntry? entry)
    {
        if (entry is null) return null;
        Count++;
        _lastName = entry.Name;
        // The tap queues no xattr set for a global header.
        RawXattrs = entry.EntryType == TarEntryType.GlobalExtendedAttributes ? null : _tap.NextEntryXattrs();
        return entry;
    }

    TarEntry? Failed(Exception e)
    {
        if (e is EndOfStreamException && _tap.Ended)
        {
            // .NET 10's TarReader throws this for every early end, a clean one between entries as well.
            var where = _tap.Where;
            if (where.Section is TarStreamSection.BetweenEntries or TarStreamSection.Padding) return null;
            throw new InvalidLayerException(Describe(where), e);
        }
        throw new InvalidLayerException($"{_what} is corrupt after {Count} entries{After()}: {e.Message}", e);
    }

    string Describe(TarStreamPoint where) => where.Section == TarStreamSection.Data
        ? $"{_what} ends inside the data of entry {Count} \"{_lastName}\": {where.Done} of its {where.DataSize} bytes arrived"
        : $"{_what} ends inside the header of entry {Count + 1}{(where.Name is null ? "" : $" \"{where.Name}\"")}{After()}";

    string After() => _lastName is null ? "" : $" (after \"{_lastName}\")";

    public void Dispose() => _reader.Dispose();
}
