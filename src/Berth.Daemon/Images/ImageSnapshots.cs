using Berth.Images;
using Berth.Linux;
using Berth.Snapshots;

namespace Berth.Daemon.Images;

/// <summary>
/// Keeps the snapshot store in step with the image store: every image's layers unpacked as a chain of
/// snapshots (keyed by chain ID, so a base layer shared by images is unpacked once), and layers no image
/// needs removed after an rmi. Chains an operation is still building are held so a concurrent rmi cannot
/// collect them before their image is recorded.
/// </summary>
public sealed class ImageSnapshots(SnapshotStore store, ImageService images)
{
    readonly ImageService _images = images;
    readonly object _lock = new();
    readonly Dictionary<string, int> _held = new(StringComparer.Ordinal);

    public SnapshotStore Store => store;

    /// <summary>The chain IDs of an image's layers, bottom first.</summary>
    public static IReadOnlyList<string> ChainIds(ImageConfig config)
    {
        var chain = new List<string>();
        string? parent = null;
        foreach (var diffId in config.RootFs.DiffIds)
            chain.Add(parent = LayerDigests.ChainId(parent, diffId.ToString()));
        return chain;
    }

    /// <summary>Marks chain IDs as in use until the returned handle is disposed.</summary>
    public IDisposable Hold(IEnumerable<string> chainIds)
    {
        var list = chainIds.ToList();
        lock (_lock)
            foreach (var id in list) _held[id] = _held.GetValueOrDefault(id) + 1;
        return new Release(this, list);
    }

    /// <summary>The unpacking of one pull, load or import: see <see cref="UnpackSession"/>.</summary>
    public UnpackSession Session() => new(this);

    /// <summary>Removes the layer snapshots that no image and no running operation needs; returns how many.</summary>
    public int Collect()
    {
        lock (_lock)
        {
            var needed = new HashSet<string>(_held.Keys, StringComparer.Ordinal);
            foreach (var image in _images.List())
                needed.UnionWith(ChainIds(ImageJson.ParseConfig(_images.ReadConfigBytes(image), image.Id)));
            int removed = 0;
            // Top layers first: a layer is removable once nothing is stacked on it.
            for (bool progress = true; progress;)
            {
                progress = false;
                foreach (var layer in store.Layers())
                {
                    if (needed.Contains(layer) || store.Children(layer).Count > 0) continue;
                    store.RemoveLayer(layer);
                    removed++;
                    progress = true;
                }
            }
            return removed;
        }
    }

    /// <summary>
    /// The snapshots one pull, load or import unpacks before it records its images. Each chain is held from before its
    /// unpack until the session ends, so an rmi running meanwhile cannot collect it before the image is recorded. A
    /// session that ends without <see cref="Complete"/> (the operation failed: nothing was recorded) removes the
    /// snapshots no image needs, so a failure leaves none behind.
    /// </summary>
    public sealed class UnpackSession(ImageSnapshots owner) : IDisposable
    {
        readonly List<IDisposable> _holds = [];
        bool _complete;

        /// <summary>
        /// Unpacks one layer on top of <paramref name="parentChainId"/> from its blob, reporting the compressed bytes
        /// read; returns its chain ID.
        /// </summary>
        public Task<string> UnpackLayerAsync(string? parentChainId, Digest diffId, string blobPath, Action<long, long>? progress)
        {
            lock (_holds) _holds.Add(owner.Hold([LayerDigests.ChainId(parentChainId, diffId.ToString())]));
            long total = new FileInfo(blobPath).Length;
            return owner.Store.EnsureLayerAsync(parentChainId, diffId.ToString(),
                () => new ProgressReadStream(File.OpenRead(blobPath), read => progress?.Invoke(read, total)));
        }

        /// <summary>Unpacks every layer of an image (load, import) that has no snapshot yet.</summary>
        public async Task UnpackImageAsync(ImageRecord image, CancellationToken ct)
        {
            var config = ImageJson.ParseConfig(owner._images.ReadConfigBytes(image), image.Id);
            string? parent = null;
            for (int i = 0; i < config.RootFs.DiffIds.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                if (i >= image.Layers.Count)
                    throw new ImageFormatException($"image {image.Id}: config lists {config.RootFs.DiffIds.Count} diff_ids but the manifest {image.Layers.Count} layers");
                parent = await UnpackLayerAsync(parent, config.RootFs.DiffIds[i], owner._images.Content.PathOf(image.Layers[i].Digest), null);
            }
        }

        /// <summary>The operation recorded its images: their snapshots stay.</summary>
        public void Complete() => _complete = true;

        public void Dispose()
        {
            lock (_holds)
            {
                foreach (var hold in _holds) hold.Dispose();
                _holds.Clear();
            }
            if (_complete) return;
            try
            {
                owner.Collect();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or LinuxException)
            {
                // Keep the operation's own error: what is left has no image and goes at the next collection or start.
            }
        }
    }

    sealed class Release(ImageSnapshots owner, List<string> ids) : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            lock (owner._lock)
                foreach (var id in ids)
                    if (owner._held.TryGetValue(id, out int n)) { if (n <= 1) owner._held.Remove(id); else owner._held[id] = n - 1; }
        }
    }

    /// <summary>A read-only stream that reports the running count of bytes read.</summary>
    sealed class ProgressReadStream(Stream inner, Action<long> report) : ReadOnlyForwardStream
    {
        long _read;
        long _lastReport = -1;

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            Count(await inner.ReadAsync(buffer, ct));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        int Count(int n)
        {
            _read += n;
            // At most one report per 512 KiB, and the last one: the client redraws a line per report.
            if (n == 0 || _read - _lastReport >= 512 * 1024)
            {
                if (_read != _lastReport) report(_read);
                _lastReport = _read;
            }
            return n;
        }

        public override long Length => inner.Length;
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
