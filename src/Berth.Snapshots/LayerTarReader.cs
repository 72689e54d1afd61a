using System.Formats.Tar;

namespace Berth.Snapshots;

/// <summary>
/// The entries of a layer tar in archive order, each with its raw SCHILY.xattr values. The layer ends at tar's
/// end-of-archive marker or, as with Go's archive/tar (so docker and containerd), where the stream itself ends
/// between two entries: umoci 0.4.7's "insert" writes layers that stop right after the last entry's data, not
/// even padded to 512 bytes. A stream that ends inside an entry's header or data is refused, naming the entry.
/// Unlike Go, a PAX or GNU long-name header with no entry header after it counts as a cut header, not an end:
/// the entry it describes is incomplete.
/// </summary>
sealed class LayerTarReader : IDisposable
{
    readonly PaxXattrTap _tap;
    readonly TarReader _reader;
    string? _lastName;

    public LayerTarReader(Stream tar)
    {
        _tap = new PaxXattrTap(tar);
        _reader = new TarReader(_tap, leaveOpen: true);
    }

    /// <summary>Entries returned so far, global PAX headers included.</summary>
    public int Count { get; private set; }

    /// <summary>The raw xattrs of the entry <see cref="Next"/> returned last; null if it has none.</summary>
    public Dictionary<string, byte[]>? RawXattrs { get; private set; }

    /// <summary>The next entry, its data unread (<c>copyData: false</c>); null at the end of the layer.</summary>
    public TarEntry? Next()
    {
        TarEntry? entry;
        try
        {
            entry = _reader.GetNextEntry(copyData: false);
        }
        catch (EndOfStreamException e) when (_tap.Ended)
        {
            // .NET 10's TarReader throws this for every early end, a clean one between entries as well.
            var where = _tap.Where;
            if (where.Section is TarStreamSection.BetweenEntries or TarStreamSection.Padding) return null;
            throw new InvalidLayerException(Describe(where), e);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidLayerException($"layer tar is corrupt after {Count} entries{After()}: {e.Message}", e);
        }
        if (entry is null) return null;
        Count++;
        _lastName = entry.Name;
        // The tap queues no xattr set for a global header.
        RawXattrs = entry.EntryType == TarEntryType.GlobalExtendedAttributes ? null : _tap.NextEntryXattrs();
        return entry;
    }

    string Describe(TarStreamPoint where) => where.Section == TarStreamSection.Data
        ? $"layer tar ends inside the data of entry {Count} \"{_lastName}\": {where.Done} of its {where.DataSize} bytes arrived"
        : $"layer tar ends inside the header of entry {Count + 1}{(where.Name is null ? "" : $" \"{where.Name}\"")}{After()}";

    string After() => _lastName is null ? "" : $" (after \"{_lastName}\")";

    public void Dispose() => _reader.Dispose();
}
