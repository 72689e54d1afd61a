using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Berth.Snapshots.Tests;

/// <summary>
/// Where a layer tar may end: at its end-of-archive marker, or where the stream stops between entries (umoci
/// 0.4.7 writes such layers; Go's archive/tar, hence docker and containerd, accepts them), but never inside an
/// entry's header or data.
/// </summary>
public class LayerTarReaderTests
{
    static readonly string LongName = "long/" + new string('n', 150);
    static readonly string GnuLongName = "gnu/" + new string('g', 140);

    /// <summary>A tar and the offset where each entry (with its padding) ends; the end marker follows the last.</summary>
    sealed record Sample(byte[] Tar, long[] Ends, string[] Names, int[] Sizes)
    {
        public byte[] Cut(long at) => Tar[..(int)at];

        /// <summary>Where entry <paramref name="i"/>'s data starts; its own header is the 512 bytes before.</summary>
        public long DataStart(int i) => Ends[i] - (Sizes[i] + 511) / 512 * 512;
    }

    static Sample Build(TarEntryFormat format = TarEntryFormat.Pax)
    {
        var ms = new MemoryStream();
        var ends = new List<long>();
        var names = new List<string>();
        var sizes = new List<int>();
        using (var w = new TarWriter(ms, format, leaveOpen: true))
        {
            void Add(TarEntryType type, string name, int size)
            {
                TarEntry e = format == TarEntryFormat.Pax ? new PaxTarEntry(type, name) : new GnuTarEntry(type, name);
                if (size > 0) e.DataStream = new MemoryStream(Content(name, size));
                w.WriteEntry(e);
                ends.Add(ms.Position);
                names.Add(name);
                sizes.Add(size);
            }
            Add(TarEntryType.Directory, "d/", 0);
            Add(TarEntryType.RegularFile, "d/f", 1000);
            Add(TarEntryType.RegularFile, format == TarEntryFormat.Pax ? LongName : GnuLongName, 700);
            Add(TarEntryType.RegularFile, "last", 6);
        }
        Assert.Equal(ends[^1] + 1024, ms.Length); // TarWriter's end marker: two zero blocks
        return new Sample(ms.ToArray(), [.. ends], [.. names], [.. sizes]);
    }

    static byte[] Content(string name, int size) =>
        [.. Enumerable.Range(0, size).Select(i => (byte)(name[i % name.Length] + i % 7))];

    /// <summary>A non-seekable stream that hands out a few bytes per read, so headers straddle reads.</summary>
    sealed class Trickle(byte[] data) : ReadOnlyForwardStream
    {
        readonly MemoryStream _inner = new(data);
        int _n;
        public override int Read(Span<byte> buffer) => _inner.Read(buffer[..Math.Min(buffer.Length, 1 + _n++ % 300)]);
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    }

    static Stream Open(byte[] tar, bool trickle) => trickle ? new Trickle(tar) : new MemoryStream(tar);

    /// <summary>Every entry's name and data as LayerApplier consumes them: data copied out, then the next entry.</summary>
    static List<(string Name, byte[] Data)> ReadAll(Stream tar)
    {
        using var reader = new LayerTarReader(tar);
        var result = new List<(string, byte[])>();
        for (TarEntry? e; (e = reader.Next()) is not null;)
        {
            var data = new MemoryStream();
            e.DataStream?.CopyTo(data);
            result.Add((e.Name, data.ToArray()));
        }
        Assert.Equal(result.Count, reader.Count);
        return result;
    }

    static void AssertComplete(Sample s, List<(string Name, byte[] Data)> entries)
    {
        Assert.Equal(s.Names, entries.Select(e => e.Name));
        for (int i = 0; i < s.Names.Length; i++) Assert.Equal(Content(s.Names[i], s.Sizes[i]), entries[i].Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tar_with_its_end_marker_reads_whole(bool trickle)
    {
        var s = Build();
        AssertComplete(s, ReadAll(Open(s.Tar, trickle)));
    }

    [Theory]
    [InlineData(TarEntryFormat.Pax, false)]
    [InlineData(TarEntryFormat.Pax, true)]
    [InlineData(TarEntryFormat.Gnu, false)]
    [InlineData(TarEntryFormat.Gnu, true)]
    public void A_tar_without_end_marker_ends_after_its_last_entry(TarEntryFormat format, bool trickle)
    {
        var s = Build(format);
        // Plain TarReader refuses it: the behaviour this reader exists to change.
        Assert.Throws<EndOfStreamException>(() =>
        {
            using var plain = new TarReader(new Trickle(s.Cut(s.Ends[^1])));
            while (plain.GetNextEntry() is not null) { }
        });
        AssertComplete(s, ReadAll(Open(s.Cut(s.Ends[^1]), trickle)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tar_that_stops_right_after_the_last_data_without_padding_ends_there(bool trickle)
    {
        // What umoci 0.4.7's insert writes: "last" holds 6 bytes, so 506 bytes of padding are missing.
        var s = Build();
        long dataEnd = s.DataStart(3) + 6;
        AssertComplete(s, ReadAll(Open(s.Cut(dataEnd), trickle)));
        AssertComplete(s, ReadAll(Open(s.Cut(dataEnd + 100), trickle)));
    }

    [Fact]
    public void A_tar_with_one_zero_block_of_its_marker_ends_there() =>
        AssertComplete(Build(), ReadAll(new MemoryStream(Build().Cut(Build().Ends[^1] + 512))));

    [Fact]
    public void An_empty_stream_is_an_empty_layer() => Assert.Empty(ReadAll(new MemoryStream()));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tar_cut_inside_an_entry_header_is_refused_naming_the_entry(bool trickle)
    {
        var s = Build();
        // TarWriter gives every PAX entry a PAX header with its path: once that came, the name is known.
        long header = s.DataStart(3) - 512;
        var named = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(header + 50), trickle)));
        Assert.Equal($"layer tar ends inside the header of entry 4 \"last\" (after \"{LongName}\")", named.Message);
        // Inside that PAX header, whose own name field is made up: no name.
        var pax = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(s.Ends[2] + 300), trickle)));
        Assert.Equal($"layer tar ends inside the header of entry 4 (after \"{LongName}\")", pax.Message);
        // A GNU entry has only its own header: 300 bytes of it hold the name field and type flag, 50 bytes do not.
        var gnu = Build(TarEntryFormat.Gnu);
        long gnuHeader = gnu.DataStart(3) - 512;
        Assert.Equal(gnu.Ends[2], gnuHeader);
        var gnuNamed = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(gnu.Cut(gnuHeader + 300), trickle)));
        Assert.Equal($"layer tar ends inside the header of entry 4 \"last\" (after \"{GnuLongName}\")", gnuNamed.Message);
        var gnuUnnamed = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(gnu.Cut(gnuHeader + 50), trickle)));
        Assert.Equal($"layer tar ends inside the header of entry 4 (after \"{GnuLongName}\")", gnuUnnamed.Message);
        var first = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(100), trickle)));
        Assert.Equal("layer tar ends inside the header of entry 1", first.Message);
    }

    [Theory]
    [InlineData(TarEntryFormat.Pax, false)]
    [InlineData(TarEntryFormat.Pax, true)]
    [InlineData(TarEntryFormat.Gnu, false)]
    [InlineData(TarEntryFormat.Gnu, true)]
    public void A_tar_cut_after_a_long_name_header_but_before_the_entry_header_is_refused(TarEntryFormat format, bool trickle)
    {
        // Go's reader would take this for the end and drop the dangling header; Berth refuses the incomplete entry.
        var s = Build(format);
        string name = s.Names[2];
        // The extended header (512) and its data, padded to blocks, precede the entry's own header.
        long entryHeader = s.DataStart(2) - 512;
        var e = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(entryHeader), trickle)));
        Assert.Equal($"layer tar ends inside the header of entry 3 \"{name}\" (after \"d/f\")", e.Message);
        var mid = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(s.Ends[1] + 600), trickle)));
        Assert.StartsWith("layer tar ends inside the header of entry 3", mid.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tar_cut_inside_an_entry_data_is_refused_naming_the_entry(bool trickle)
    {
        var s = Build();
        var e = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(s.DataStart(1) + 300), trickle)));
        Assert.Equal("layer tar ends inside the data of entry 2 \"d/f\": 300 of its 1000 bytes arrived", e.Message);
        var last = Assert.Throws<InvalidLayerException>(() => ReadAll(Open(s.Cut(s.DataStart(3) + 5), trickle)));
        Assert.Equal($"layer tar ends inside the data of entry 4 \"last\": 5 of its 6 bytes arrived", last.Message);
    }

    [Fact]
    public async Task NextAsync_ends_and_refuses_where_Next_does_and_says_what_the_tar_is()
    {
        var s = Build();
        async Task<List<string>> Names(byte[] tar)
        {
            using var reader = new LayerTarReader(new Trickle(tar), "archive tar");
            var names = new List<string>();
            for (TarEntry? e; (e = await reader.NextAsync()) is not null;) names.Add(e.Name);
            return names;
        }
        Assert.Equal(s.Names, await Names(s.Cut(s.DataStart(3) + 6)));
        var e = await Assert.ThrowsAsync<InvalidLayerException>(() => Names(s.Cut(s.DataStart(1) + 300)));
        Assert.Equal("archive tar ends inside the data of entry 2 \"d/f\": 300 of its 1000 bytes arrived", e.Message);
        Assert.IsType<EndOfStreamException>(e.InnerException);
    }

    [Fact]
    public void Garbage_instead_of_a_header_is_still_corrupt()
    {
        var s = Build();
        var tar = s.Tar.ToArray();
        Encoding.ASCII.GetBytes("not a tar header at all").CopyTo(tar, s.Ends[2]);
        tar.AsSpan((int)s.Ends[2] + 148, 8).Fill((byte)'x'); // the checksum field
        var e = Assert.Throws<InvalidLayerException>(() => ReadAll(new MemoryStream(tar)));
        Assert.StartsWith($"layer tar is corrupt after 3 entries (after \"{LongName}\"): ", e.Message);
    }

    [Fact]
    public void A_gzip_layer_without_end_marker_reads_whole_and_its_diffId_covers_every_byte()
    {
        var s = Build();
        var tar = s.Cut(s.DataStart(3) + 6);
        string diffId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar));
        using (var layer = LayerDecompression.Open(new MemoryStream(LayerDecompressionTests.Compress("gzip", tar)), diffId))
        {
            AssertComplete(s, ReadAll(layer));
            Assert.Equal(diffId, layer.Verify());
            Assert.Equal(tar.Length, layer.Position64);
        }
        // The diffID of the complete tar is not the one of the stream as it came.
        string whole = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(s.Tar));
        using (var layer = LayerDecompression.Open(new MemoryStream(LayerDecompressionTests.Compress("gzip", tar)), whole))
        {
            ReadAll(layer);
            var e = Assert.Throws<InvalidLayerException>(() => layer.Verify());
            Assert.Contains("diffID mismatch", e.Message);
        }
    }
}
