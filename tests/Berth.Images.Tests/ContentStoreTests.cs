using System.Text;

namespace Berth.Images.Tests;

public class ContentStoreTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ContentStore _store;

    public ContentStoreTests() => _store = new ContentStore(_dir.Path);

    public void Dispose() => _dir.Dispose();

    private string[] IngestFiles() => Directory.GetFiles(Path.Combine(_dir.Path, "ingest"));

    [Fact]
    public void Write_stores_under_blobs_sha256_hex_and_reads_back()
    {
        var data = Encoding.UTF8.GetBytes("layer data");
        var digest = _store.Write(data);
        Assert.True(File.Exists(Path.Combine(_dir.Path, "blobs", "sha256", digest.Hex)));
        Assert.True(_store.Has(digest));
        Assert.Equal(data.Length, _store.Size(digest));
        using (var s = _store.OpenRead(digest)) Assert.Equal(digest, Digest.Compute(s));
        Assert.Equal([digest], _store.Enumerate());
        Assert.True(_store.Delete(digest));
        Assert.False(_store.Has(digest));
        Assert.Null(_store.Size(digest));
        Assert.Throws<BlobNotFoundException>(() => _store.OpenRead(digest));
        Assert.Empty(IngestFiles());
    }

    [Fact]
    public void A_mismatching_write_names_both_digests_and_leaves_nothing()
    {
        var expected = Digest.Compute("what was announced"u8);
        var writer = _store.OpenWriter(expected, null);
        writer.Write("what was sent"u8);
        var e = Assert.Throws<DigestMismatchException>(writer.Commit);
        Assert.Contains(expected.ToString(), e.Message);
        Assert.Contains(Digest.Compute("what was sent"u8).ToString(), e.Message);
        writer.Dispose();
        Assert.False(_store.Has(expected));
        Assert.Empty(_store.Enumerate());
        Assert.Empty(IngestFiles());
        Assert.Throws<DigestMismatchException>(() => _store.Write("x"u8, expected));
        Assert.Empty(_store.Enumerate());
    }

    [Fact]
    public void A_size_mismatch_is_refused_both_ways()
    {
        var data = "12345"u8.ToArray();
        var digest = Digest.Compute(data);
        using (var longer = _store.OpenWriter(digest, 4))
            Assert.Throws<BlobSizeException>(() => longer.Write(data));
        using (var shorter = _store.OpenWriter(digest, 6))
        {
            shorter.Write(data);
            var e = Assert.Throws<BlobSizeException>(shorter.Commit);
            Assert.Contains("expected 6 bytes, got 5", e.Message);
        }
        Assert.False(_store.Has(digest));
        Assert.Empty(IngestFiles());
    }

    [Fact]
    public void A_blob_is_invisible_until_committed_and_a_partial_one_resumes()
    {
        var data = new byte[300_000];
        new Random(1).NextBytes(data);
        var digest = Digest.Compute(data);
        using (var first = _store.OpenWriter(digest, data.Length))
        {
            first.Write(data.AsSpan(0, 100_000));
            Assert.False(_store.Has(digest)); // written but not committed: not visible
        } // cut off: partial kept
        Assert.Equal([digest], _store.EnumeratePartial());
        using (var second = _store.OpenWriter(digest, data.Length))
        {
            Assert.Equal(100_000, second.Offset); // continue from here (HTTP Range)
            second.Write(data.AsSpan(100_000));
            second.Commit();
        }
        Assert.True(_store.Has(digest));
        Assert.Equal(digest, Digest.Compute(_store.ReadAllBytes(digest)));
        Assert.Empty(IngestFiles());
    }

    [Fact]
    public void Reset_starts_over_when_the_server_ignores_a_range()
    {
        var data = "0123456789"u8.ToArray();
        var digest = Digest.Compute(data);
        using (var w = _store.OpenWriter(digest, data.Length)) w.Write(data.AsSpan(0, 4));
        using (var w = _store.OpenWriter(digest, data.Length))
        {
            w.Reset();
            w.Write(data);
            w.Commit();
        }
        Assert.Equal(data, _store.ReadAllBytes(digest));
    }

    [Fact]
    public void Two_writers_of_one_digest_are_refused()
    {
        var digest = Digest.Compute("x"u8);
        using var first = _store.OpenWriter(digest, 1);
        var e = Assert.Throws<InvalidOperationException>(() => _store.OpenWriter(digest, 1));
        Assert.Contains(digest.ToString(), e.Message);
    }

    [Fact]
    public async Task Concurrent_ingests_of_one_blob_download_it_once()
    {
        var data = new byte[1 << 20];
        new Random(2).NextBytes(data);
        var digest = Digest.Compute(data);
        var fills = 0;
        var release = new TaskCompletionSource();
        async Task Fill(ContentWriter w, CancellationToken ct)
        {
            Interlocked.Increment(ref fills);
            await release.Task;
            await w.WriteAsync(data, ct);
        }
        var ingests = Enumerable.Range(0, 8).Select(_ => Task.Run(() => _store.IngestAsync(digest, data.Length, Fill))).ToList();
        await Task.Delay(200);
        release.SetResult();
        var results = await Task.WhenAll(ingests);
        Assert.Equal(1, fills);
        Assert.Equal(1, results.Count(r => r == IngestStatus.Written));
        Assert.All(results.Where(r => r != IngestStatus.Written), r => Assert.True(r is IngestStatus.WrittenByAnother or IngestStatus.AlreadyExists));
        Assert.Equal(IngestStatus.AlreadyExists, await _store.IngestAsync(digest, data.Length, Fill));
        Assert.Equal(1, fills);
        Assert.Equal(data, _store.ReadAllBytes(digest));
    }

    [Fact]
    public async Task When_the_first_ingest_fails_a_waiter_tries_itself()
    {
        var data = "good"u8.ToArray();
        var digest = Digest.Compute(data);
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var bad = _store.IngestAsync(digest, null, async (w, ct) =>
        {
            started.SetResult();
            await release.Task;
            await w.WriteAsync("evil"u8.ToArray(), ct);
        });
        await started.Task;
        var good = _store.IngestAsync(digest, null, (w, ct) => w.WriteAsync(data, ct).AsTask());
        release.SetResult();
        await Assert.ThrowsAsync<DigestMismatchException>(() => bad);
        Assert.Equal(IngestStatus.Written, await good);
        Assert.Equal(data, _store.ReadAllBytes(digest));
    }

    [Fact]
    public async Task WriteAsync_computes_the_digest_of_a_stream()
    {
        var data = Encoding.UTF8.GetBytes(new string('z', 200_000));
        var (digest, size) = await _store.WriteAsync(new MemoryStream(data));
        Assert.Equal(Digest.Compute(data), digest);
        Assert.Equal(data.Length, size);
        await Assert.ThrowsAsync<DigestMismatchException>(() => _store.WriteAsync(new MemoryStream("other"u8.ToArray()), digest));
        Assert.Single(_store.Enumerate());
        Assert.Empty(IngestFiles());
    }
}
