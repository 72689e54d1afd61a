using System.Collections.Concurrent;
using System.Security.Cryptography;
using Berth.Linux;

namespace Berth.Images;

/// <summary>
/// A content-addressable blob store under a root directory: <c>blobs/sha256/HEX</c>. Blobs are written
/// to <c>ingest/</c> (same filesystem), hashed while written, verified, fsynced and renamed into place,
/// so a visible blob is always complete and matches its name. Partial downloads stay in
/// <c>ingest/HEX.partial</c> so that a cut-off download can resume where it stopped.
/// A blob an operation relies on is pinned (<see cref="Lease"/>) before the operation checks that it is stored;
/// garbage collection deletes through <see cref="DeleteIfUnused"/>, which checks the pins in the same step.
/// </summary>
public sealed class ContentStore
{
    private readonly string _blobs;
    private readonly string _ingest;
    private readonly ConcurrentDictionary<Digest, Task> _inflight = new();
    private readonly ConcurrentDictionary<Digest, int> _pins = new();
    private readonly ConcurrentDictionary<Digest, byte> _openWriters = new();
    // Taking a pin and deleting an unpinned blob exclude each other: between a collection's check of the pins and
    // its deletion no operation can pin the blob and find it still there.
    private readonly Lock _pinLock = new();

    public ContentStore(string root)
    {
        Root = Path.GetFullPath(root);
        _blobs = Path.Combine(Root, "blobs", Digest.Sha256);
        _ingest = Path.Combine(Root, "ingest");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_ingest);
    }

    public string Root { get; }

    /// <summary>For tests: called when a write finds its blob already stored, right after that check.</summary>
    internal Action<Digest>? BlobFound { get; set; }

    /// <summary>The file of a blob (for readers that want a path, such as layer unpacking).</summary>
    public string PathOf(Digest digest) => Path.Combine(_blobs, digest.Hex);

    public bool Has(Digest digest) => File.Exists(PathOf(digest));

    public long? Size(Digest digest)
    {
        var info = new FileInfo(PathOf(digest));
        return info.Exists ? info.Length : null;
    }

    public Stream OpenRead(Digest digest)
    {
        try
        {
            return new FileStream(PathOf(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
        }
        catch (FileNotFoundException)
        {
            throw new BlobNotFoundException(digest);
        }
    }

    public byte[] ReadAllBytes(Digest digest)
    {
        try
        {
            return File.ReadAllBytes(PathOf(digest));
        }
        catch (FileNotFoundException)
        {
            throw new BlobNotFoundException(digest);
        }
    }

    /// <summary>Deletes a blob and any partial ingest of it; false when there was no blob.</summary>
    public bool Delete(Digest digest)
    {
        TryDelete(PartialPath(digest));
        var path = PathOf(digest);
        if (!File.Exists(path)) return false;
        File.Delete(path);
        return true;
    }

    public IEnumerable<Digest> Enumerate()
    {
        foreach (var file in Directory.EnumerateFiles(_blobs))
            if (Digest.TryParseHex(Path.GetFileName(file), out var digest))
                yield return digest;
    }

    /// <summary>
    /// Stores bytes whose digest is computed here; when <paramref name="expected"/> is given it must match. With a
    /// <paramref name="lease"/> the blob is pinned before the store checks whether it already holds it.
    /// </summary>
    public Digest Write(ReadOnlySpan<byte> data, Digest? expected = null, ContentLease? lease = null)
    {
        var actual = Digest.Compute(data);
        if (expected is { } e && e != actual) throw new DigestMismatchException(e, actual, null);
        lease?.Add(actual);
        if (Has(actual))
        {
            BlobFound?.Invoke(actual);
            return actual;
        }
        var temp = Path.Combine(_ingest, $"tmp-{Guid.NewGuid():N}");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.Write(data);
                file.Flush(flushToDisk: true);
            }
            Publish(temp, actual);
        }
        finally
        {
            TryDelete(temp);
        }
        return actual;
    }

    /// <summary>
    /// Stores a stream of unknown digest (an archive member, an imported tar); returns its digest and size. With a
    /// <paramref name="lease"/> the blob is pinned before the store checks whether it already holds it.
    /// </summary>
    public async Task<(Digest Digest, long Size)> WriteAsync(Stream content, Digest? expected = null, ContentLease? lease = null,
        CancellationToken cancellationToken = default)
    {
        var temp = Path.Combine(_ingest, $"tmp-{Guid.NewGuid():N}");
        try
        {
            Digest actual;
            long size;
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                var buffer = new byte[81920];
                int n;
                while ((n = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }
                file.Flush(flushToDisk: true);
                size = file.Length;
                actual = Digest.FromHash(hash.GetHashAndReset());
            }
            if (expected is { } e && e != actual) throw new DigestMismatchException(e, actual, null);
            lease?.Add(actual);
            if (!Has(actual)) Publish(temp, actual);
            else BlobFound?.Invoke(actual);
            return (actual, size);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>
    /// Opens a writer for a blob of known digest. With <paramref name="resume"/>, data left by an earlier
    /// cut-off attempt is kept (and re-hashed) and <see cref="ContentWriter.Offset"/> says where to continue.
    /// Only one writer per digest may be open (in this process, and across processes through flock).
    /// </summary>
    public ContentWriter OpenWriter(Digest expected, long? expectedSize, bool resume = true)
    {
        if (!_openWriters.TryAdd(expected, 0))
            throw new InvalidOperationException($"blob {expected}: another write of it is in progress");
        try
        {
            return new ContentWriter(this, expected, expectedSize, PartialPath(expected), resume);
        }
        catch
        {
            _openWriters.TryRemove(expected, out _);
            throw;
        }
    }

    /// <summary>
    /// Ingests a blob once however many callers ask for it at the same time: the first runs
    /// <paramref name="fill"/>, the others wait and reuse its result (or try themselves if it failed).
    /// </summary>
    public async Task<IngestStatus> IngestAsync(Digest expected, long? expectedSize,
        Func<ContentWriter, CancellationToken, Task> fill, CancellationToken cancellationToken = default)
    {
        var waited = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Has(expected)) return waited ? IngestStatus.WrittenByAnother : IngestStatus.AlreadyExists;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_inflight.TryAdd(expected, done.Task))
            {
                if (_inflight.TryGetValue(expected, out var other))
                {
                    waited = true;
                    try { await other.WaitAsync(cancellationToken).ConfigureAwait(false); }
                    catch (Exception) when (!cancellationToken.IsCancellationRequested) { /* the owner failed: try ourselves */ }
                }
                continue;
            }
            try
            {
                if (Has(expected)) return IngestStatus.AlreadyExists;
                using (var writer = OpenWriter(expected, expectedSize))
                {
                    await fill(writer, cancellationToken).ConfigureAwait(false);
                    if (!writer.Committed) writer.Commit();
                }
                done.SetResult();
                return IngestStatus.Written;
            }
            catch (Exception e)
            {
                done.SetException(e);
                _ = done.Task.Exception; // observed: waiters retry on their own
                throw;
            }
            finally
            {
                _inflight.TryRemove(expected, out _);
            }
        }
    }

    /// <summary>Keeps a blob from garbage collection while an operation that will reference it is in progress.</summary>
    public IDisposable Pin(Digest digest)
    {
        lock (_pinLock) _pins.AddOrUpdate(digest, 1, (_, n) => n + 1);
        return new Unpin(this, digest);
    }

    /// <summary>A set of pins for one operation: every blob it writes, finds or reads, pinned until it is done.</summary>
    public ContentLease Lease() => new(this);

    /// <summary>
    /// Deletes a blob and its partial data unless an operation pins it or is writing it; false when it stays (or
    /// was not there). The check and the deletion are one step as far as <see cref="Pin"/> is concerned.
    /// </summary>
    internal bool DeleteIfUnused(Digest digest)
    {
        lock (_pinLock)
        {
            if (IsPinned(digest) || IsIngesting(digest)) return false;
            return Delete(digest);
        }
    }

    internal bool IsPinned(Digest digest) => _pins.TryGetValue(digest, out var n) && n > 0;

    internal bool IsIngesting(Digest digest) => _inflight.ContainsKey(digest) || _openWriters.ContainsKey(digest);

    /// <summary>Partial ingests of blobs, for cleanup: digests with data kept for a resume.</summary>
    public IEnumerable<Digest> EnumeratePartial()
    {
        foreach (var file in Directory.EnumerateFiles(_ingest, "*.partial"))
            if (Digest.TryParseHex(Path.GetFileNameWithoutExtension(file), out var digest))
                yield return digest;
    }

    internal string PartialPath(Digest digest) => Path.Combine(_ingest, digest.Hex + ".partial");

    internal void WriterClosed(Digest digest) => _openWriters.TryRemove(digest, out _);

    /// <summary>Renames a complete, verified, fsynced temp file into place and makes the rename durable.</summary>
    internal void Publish(string temp, Digest digest)
    {
        File.Move(temp, PathOf(digest), overwrite: true);
        SyncDirectory(_blobs);
    }

    private static void SyncDirectory(string dir)
    {
        using var fd = Sys.Open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY);
        if (Libc.fsync(fd.Value) < 0) throw LinuxException.FromLastError("fsync", dir);
    }

    internal static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed class Unpin(ContentStore store, Digest digest) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            store._pins.AddOrUpdate(digest, 0, (_, n) => n - 1);
            if (store._pins.TryGetValue(digest, out var n) && n <= 0) store._pins.TryRemove(new(digest, n));
        }
    }
}

public enum IngestStatus
{
    /// <summary>This call wrote the blob.</summary>
    Written,
    /// <summary>The blob was already in the store.</summary>
    AlreadyExists,
    /// <summary>Another ingest of the same blob, running at the same time, wrote it.</summary>
    WrittenByAnother,
}

/// <summary>
/// Writes one blob of known digest into the store's ingest area; <see cref="Commit"/> verifies size and
/// digest, fsyncs and renames it into place. Disposed without a commit, the partial data is kept for a
/// resume; <see cref="Discard"/> removes it.
/// </summary>
public sealed class ContentWriter : IDisposable
{
    private readonly ContentStore _store;
    private readonly string _path;
    private readonly FileStream _file;
    private IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _closed;

    internal ContentWriter(ContentStore store, Digest expected, long? expectedSize, string path, bool resume)
    {
        _store = store;
        Expected = expected;
        ExpectedSize = expectedSize;
        _path = path;
        // FileShare.None takes an flock: a second process cannot write the same partial blob. Unbuffered: a write that
        // fails (a full disk) fails in WriteAsync, where it is reported, and never later in Dispose.
        _file = new FileStream(path, resume ? FileMode.OpenOrCreate : FileMode.Create, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.Asynchronous);
        if (resume && _file.Length > 0 && (expectedSize is null || _file.Length <= expectedSize))
        {
            // Re-hash what an earlier attempt left, so the new bytes continue the same hash.
            var buffer = new byte[81920];
            int n;
            while ((n = _file.Read(buffer)) > 0) _hash.AppendData(buffer, 0, n);
        }
        else
        {
            _file.SetLength(0);
        }
        Offset = _file.Length;
        _file.Position = Offset;
    }

    public Digest Expected { get; }
    public long? ExpectedSize { get; }
    /// <summary>Bytes written so far (including those kept from an earlier attempt).</summary>
    public long Offset { get; private set; }
    /// <summary>True once the blob is published.</summary>
    public bool Committed { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        if (ExpectedSize is { } max && Offset + data.Length > max)
        {
            Discard();
            throw new BlobSizeException(Expected, max, Offset + data.Length, atLeast: true);
        }
        _hash.AppendData(data.Span);
        try
        {
            await _file.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw WriteFailed(e);
        }
        Offset += data.Length;
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        ThrowIfClosed();
        if (ExpectedSize is { } max && Offset + data.Length > max)
        {
            Discard();
            throw new BlobSizeException(Expected, max, Offset + data.Length, atLeast: true);
        }
        _hash.AppendData(data);
        try
        {
            _file.Write(data);
        }
        catch (IOException e)
        {
            throw WriteFailed(e);
        }
        Offset += data.Length;
    }

    /// <summary>Copies a stream to the end of the blob, reporting the running offset.</summary>
    public async Task CopyFromAsync(Stream source, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[81920];
        int n;
        while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            progress?.Invoke(Offset);
        }
    }

    /// <summary>Starts over from byte 0 (a server that ignored a Range request sends the whole blob).</summary>
    public void Reset()
    {
        ThrowIfClosed();
        _file.SetLength(0);
        _file.Position = 0;
        _hash.Dispose();
        _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Offset = 0;
    }

    /// <summary>Verifies size and digest, fsyncs and publishes the blob. On a mismatch nothing is left and the error names both digests.</summary>
    public void Commit()
    {
        ThrowIfClosed();
        if (ExpectedSize is { } size && Offset != size)
        {
            Discard();
            throw new BlobSizeException(Expected, size, Offset, atLeast: false);
        }
        var actual = Digest.FromHash(_hash.GetHashAndReset());
        if (actual != Expected)
        {
            Discard();
            throw new DigestMismatchException(Expected, actual, null);
        }
        try
        {
            _file.Flush(flushToDisk: true);
        }
        catch (IOException e)
        {
            throw WriteFailed(e);
        }
        Close();
        try
        {
            _store.Publish(_path, Expected);
        }
        finally
        {
            ContentStore.TryDelete(_path);
        }
        Committed = true;
    }

    /// <summary>Abandons the blob and removes its partial data.</summary>
    public void Discard()
    {
        if (!_closed) Close();
        ContentStore.TryDelete(_path);
    }

    public void Dispose()
    {
        if (!_closed) Close();
    }

    private void Close()
    {
        _closed = true;
        try
        {
            _file.Dispose();
        }
        finally
        {
            _hash.Dispose();
            _store.WriterClosed(Expected);
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed) throw new ObjectDisposedException($"writer of blob {Expected}");
    }

    private ContentWriteException WriteFailed(IOException e) => new($"blob {Expected}: writing it into the content store failed: {e.Message}", e);
}

/// <summary>
/// The blobs one operation relies on, each pinned against garbage collection until the lease is disposed. Add a
/// blob before checking that the store holds it: a collection then either ran before (and the operation sees the
/// blob missing) or leaves it alone. <see cref="Digests"/> stays readable after disposal, for cleaning up after a
/// failed operation.
/// </summary>
public sealed class ContentLease(ContentStore store) : IDisposable
{
    private readonly List<IDisposable> _pins = [];
    private readonly HashSet<Digest> _digests = [];
    private bool _disposed;

    public IReadOnlyCollection<Digest> Digests
    {
        get { lock (_pins) return [.. _digests]; }
    }

    public void Add(Digest digest)
    {
        lock (_pins)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_digests.Add(digest)) _pins.Add(store.Pin(digest));
        }
    }

    public void AddRange(IEnumerable<Digest> digests)
    {
        foreach (var digest in digests) Add(digest);
    }

    public void Dispose()
    {
        lock (_pins)
        {
            _disposed = true;
            foreach (var pin in _pins) pin.Dispose();
            _pins.Clear();
        }
    }
}

/// <summary>Writing to the store's own disk failed (a full disk, an I/O error): not the source's fault, and no retry will help.</summary>
public sealed class ContentWriteException(string message, Exception inner) : Exception(message, inner);

/// <summary>Content whose sha256 is not the one it was announced with.</summary>
public sealed class DigestMismatchException(Digest expected, Digest actual, string? source)
    : Exception($"digest mismatch{(source is null ? "" : " for " + source)}: expected {expected}, got {actual}; nothing was stored")
{
    public Digest Expected { get; } = expected;
    public Digest Actual { get; } = actual;
}

/// <summary>Content whose length is not the one it was announced with.</summary>
public sealed class BlobSizeException(Digest digest, long expected, long actual, bool atLeast)
    : Exception($"blob {digest}: size mismatch: expected {expected} bytes, got {(atLeast ? "at least " : "")}{actual}; nothing was stored")
{
    public Digest Digest { get; } = digest;
}

public sealed class BlobNotFoundException(Digest digest) : FileNotFoundException($"blob {digest} not found in the content store")
{
    public Digest Digest { get; } = digest;
}
