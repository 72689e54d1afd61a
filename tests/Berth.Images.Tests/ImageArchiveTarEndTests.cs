using System.Formats.Tar;
using System.IO.Compression;

namespace Berth.Images.Tests;

/// <summary>
/// Where the tars of import and load may end: as with docker (Go's archive/tar), where the stream stops between
/// two entries even without the end-of-archive marker, but never inside an entry; and a stream that is no tar
/// at all is "not a tar archive". Checked against docker 20.10: it imports a rootfs tar and loads a save archive
/// without the marker, refuses both cuts with "unexpected EOF" and garbage with "invalid tar header".
/// </summary>
public class ImageArchiveTarEndTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ImageArchive NewStore(string name, out ContentStore content)
    {
        content = new ContentStore(Path.Combine(_dir.Path, name, "content"));
        return new ImageArchive(new ImageStore(Path.Combine(_dir.Path, name, "images"), content));
    }

    /// <summary>A rootfs tar with its end marker, and the offset where each entry (with its padding) ends.</summary>
    private static (byte[] Tar, long[] Ends) Rootfs()
    {
        var ms = new MemoryStream();
        var ends = new List<long>();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, size) in new[] { ("d/", -1), ("d/f", 1000), ("last", 6) })
            {
                var e = new PaxTarEntry(size < 0 ? TarEntryType.Directory : TarEntryType.RegularFile, name);
                if (size >= 0) e.DataStream = new MemoryStream([.. Enumerable.Range(0, size).Select(i => (byte)(i % 251))]);
                w.WriteEntry(e);
                ends.Add(ms.Position);
            }
        }
        var tar = ms.ToArray();
        Assert.Equal(ends[^1] + 1024, tar.Length); // TarWriter's end marker: two zero blocks
        return (tar, [.. ends]);
    }

    private static string[] Files(ContentStore content) => [.. content.Enumerate().Select(d => d.ToString())];

    /// <summary>Refuses synchronous reads, as a Kestrel request body does.</summary>
    private sealed class AsyncOnly(byte[] data) : Berth.Snapshots.ReadOnlyForwardStream
    {
        private readonly MemoryStream _inner = new(data);
        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("synchronous read");
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(_inner.Read(buffer.Span));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Import_of_a_tar_without_end_marker_makes_an_image_whose_diff_id_covers_the_bytes_given(bool gzip)
    {
        var (tar, ends) = Rootfs();
        var archive = NewStore("s", out var content);
        foreach (var cut in new[] { ends[^1], ends[^1] - 506 }) // whole last block; last data without its padding
        {
            var plain = tar[..(int)cut];
            var body = gzip ? Gzip(plain) : plain;
            var record = await archive.ImportAsync(new AsyncOnly(body), $"imported:{cut}");
            var layer = Assert.Single(record.Layers);
            Assert.Equal(Digest.Compute(body), layer.Digest);
            var config = ImageJson.ParseConfig(content.ReadAllBytes(record.Id), record.Id);
            Assert.Equal([Digest.Compute(plain)], config.RootFs.DiffIds);
        }
    }

    [Fact]
    public async Task Import_of_a_tar_cut_inside_an_entry_is_refused_naming_it_and_stores_nothing()
    {
        var (tar, ends) = Rootfs();
        var archive = NewStore("s", out var content);
        long dataStart = ends[2] - 512; // "last": its 6 bytes padded to one block
        var data = await Assert.ThrowsAsync<ImageFormatException>(() => archive.ImportAsync(new MemoryStream(tar[..(int)(dataStart + 5)]), "cut:1"));
        Assert.Equal("import: tar ends inside the data of entry 3 \"last\": 5 of its 6 bytes arrived", data.Message);
        var header = await Assert.ThrowsAsync<ImageFormatException>(() => archive.ImportAsync(new MemoryStream(tar[..(int)(dataStart - 100)]), "cut:2"));
        Assert.Equal("import: tar ends inside the header of entry 3 \"last\" (after \"d/f\")", header.Message);
        var gz = await Assert.ThrowsAsync<ImageFormatException>(() => archive.ImportAsync(new MemoryStream(Gzip(tar[..(int)(ends[1] - 1024 + 300)])), "cut:3"));
        Assert.Equal("import: tar ends inside the data of entry 2 \"d/f\": 300 of its 1000 bytes arrived", gz.Message);
        Assert.Empty(Files(content));
    }

    [Fact]
    public async Task Import_of_a_file_that_is_no_tar_is_not_a_tar_archive()
    {
        var archive = NewStore("s", out var content);
        var garbage = await Assert.ThrowsAsync<ImageFormatException>(() =>
            archive.ImportAsync(new MemoryStream([.. Enumerable.Range(0, 700).Select(i => (byte)(i % 7 + 1))]), "bad:1"));
        Assert.StartsWith("import: not a tar archive: invalid tar header at the start (", garbage.Message);
        var shortText = await Assert.ThrowsAsync<ImageFormatException>(() => archive.ImportAsync(new MemoryStream("hello\n"u8.ToArray()), "bad:2"));
        Assert.Equal("import: not a tar archive: tar ends inside the header of entry 1", shortText.Message);
        Assert.Empty(Files(content));
    }

    [Fact]
    public async Task Load_of_a_saved_archive_without_end_marker_loads_the_same_image()
    {
        var source = NewStore("source", out _);
        var image = await source.ImportAsync(new MemoryStream(Rootfs().Tar), "example.com/app:v1");
        var saved = new MemoryStream();
        await source.SaveAsync(["example.com/app:v1"], saved);
        var bytes = saved.ToArray();
        Assert.True(bytes.AsSpan(bytes.Length - 1024).IndexOfAnyExcept((byte)0) < 0);

        var target = NewStore("target", out _);
        var loaded = Assert.Single(await target.LoadAsync(new AsyncOnly(bytes[..^1024])));
        Assert.Equal(image.Id, loaded.Id);
        Assert.Equal(image.Manifest.Digest, loaded.Manifest.Digest);
        Assert.Equal(["example.com/app:v1"], loaded.FamiliarRepoTags);
    }

    [Fact]
    public async Task Load_of_an_archive_cut_inside_an_entry_or_of_no_tar_is_refused_and_stores_nothing()
    {
        var source = NewStore("source", out _);
        await source.ImportAsync(new MemoryStream(Rootfs().Tar), "example.com/app:v1");
        var saved = new MemoryStream();
        await source.SaveAsync(["example.com/app:v1"], saved);
        var bytes = saved.ToArray();
        // The last entry is manifest.json; cut its data in the middle.
        long manifestJsonEnd;
        int manifestJsonSize;
        using (var reader = new TarReader(new MemoryStream(bytes)))
        {
            TarEntry? last = null;
            for (TarEntry? e; (e = reader.GetNextEntry()) is not null;) last = e;
            Assert.Equal("manifest.json", last!.Name);
            manifestJsonSize = (int)last.Length;
            manifestJsonEnd = bytes.Length - 1024 - (512 - manifestJsonSize % 512) % 512;
        }
        var target = NewStore("target", out var content);
        var cut = await Assert.ThrowsAsync<ImageFormatException>(() => target.LoadAsync(new AsyncOnly(bytes[..(int)(manifestJsonEnd - 10)])));
        Assert.Matches($"^archive: tar ends inside the data of entry \\d+ \"manifest.json\": {manifestJsonSize - 10} of its {manifestJsonSize} bytes arrived$", cut.Message);
        Assert.Empty(Files(content));

        var garbage = await Assert.ThrowsAsync<ImageFormatException>(() => target.LoadAsync(new MemoryStream(new byte[1000].Select((_, i) => (byte)(i % 5 + 1)).ToArray())));
        Assert.StartsWith("archive: not a tar archive: invalid tar header at the start (", garbage.Message);
        Assert.Empty(Files(content));
    }

    private static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }
}
