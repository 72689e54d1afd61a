using Berth.Linux;

namespace Berth.Snapshots.RootTests;

public sealed class SnapshotStoreTests : IDisposable
{
    readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    static Layer Tar(string file, string content) => Layer.Gzip(new TarBuilder().Dir("data/").File("data/" + file, content).Build());

    [SkippableFact]
    public async Task A_diffId_mismatch_is_an_error_and_leaves_no_snapshot()
    {
        var store = new SnapshotStore(_scratch.Dir("store"));
        var real = Tar("a", "real");
        var claimed = Tar("a", "claimed").DiffId;
        var e = await Assert.ThrowsAsync<InvalidLayerException>(() => store.EnsureLayerAsync(null, claimed, () => new MemoryStream(real.Blob)));
        Assert.Contains("diffID mismatch", e.Message);
        Assert.Contains(claimed, e.Message);
        Assert.Contains(real.DiffId, e.Message);
        Assert.False(store.Exists(claimed));
        Assert.Empty(store.Layers());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "tmp")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "layers")));

        // A corrupt blob and a blob that is not a tar fail the same clean way.
        var cut = real.Blob[..(real.Blob.Length / 2)];
        await Assert.ThrowsAnyAsync<Exception>(() => store.EnsureLayerAsync(null, real.DiffId, () => new MemoryStream(cut)));
        var garbage = Enumerable.Range(0, 2000).Select(i => (byte)(i * 7)).ToArray();
        await Assert.ThrowsAsync<InvalidLayerException>(() => store.EnsureLayerAsync(null, real.DiffId, () => new MemoryStream(garbage)));
        Assert.Empty(store.Layers());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "tmp")));
    }

    [SkippableFact]
    public async Task A_gzip_layer_without_end_marker_is_stored_under_the_diffId_of_the_stream_as_it_came()
    {
        var store = new SnapshotStore(_scratch.Dir("store"));
        var tar = new TarBuilder().Dir("data/").File("data/a", "first\n").File("data/b", "second\n").Build();
        var unterminated = Layer.Gzip(tar[..^(1024 + 512 - "second\n".Length)]); // no end marker, no padding
        Assert.NotEqual(Layer.Plain(tar).DiffId, unterminated.DiffId);
        var id = await store.EnsureLayerAsync(null, unterminated.DiffId, () => new MemoryStream(unterminated.Blob));
        Assert.Equal(unterminated.DiffId, id);
        Assert.Equal("second\n", File.ReadAllText(Path.Combine(store.LayerFsPath(id), "data/b")));

        // The complete tar's diffID does not vouch for the shorter stream.
        var wrong = await Assert.ThrowsAsync<InvalidLayerException>(() =>
            new SnapshotStore(_scratch.Dir("store2")).EnsureLayerAsync(null, Layer.Plain(tar).DiffId, () => new MemoryStream(unterminated.Blob)));
        Assert.Contains("diffID mismatch", wrong.Message);

        // Cut inside "data/b"'s data: refused, naming it, and nothing is left behind.
        var cut = Layer.Gzip(tar[..^(1024 + 512 - 3)]);
        var e = await Assert.ThrowsAsync<InvalidLayerException>(() => store.EnsureLayerAsync(null, cut.DiffId, () => new MemoryStream(cut.Blob)));
        Assert.Equal($"layer {cut.DiffId}: layer tar ends inside the data of entry 3 \"data/b\": 3 of its 7 bytes arrived", e.Message);
        Assert.False(store.Exists(cut.DiffId));
        Assert.Equal([id], store.Layers());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "tmp")));
    }

    [SkippableFact]
    public async Task A_shared_base_layer_is_stored_once_with_two_children()
    {
        var store = new SnapshotStore(_scratch.Dir("store"));
        var baseLayer = Tar("base", "shared");
        var a = Tar("a", "image a");
        var b = Tar("b", "image b");
        int baseOpens = 0;
        Stream OpenBase()
        {
            Interlocked.Increment(ref baseOpens);
            return new MemoryStream(baseLayer.Blob);
        }

        var baseA = await store.EnsureLayerAsync(null, baseLayer.DiffId, OpenBase);
        var topA = await store.EnsureLayerAsync(baseA, a.DiffId, () => new MemoryStream(a.Blob));
        var baseB = await store.EnsureLayerAsync(null, baseLayer.DiffId, OpenBase);
        var topB = await store.EnsureLayerAsync(baseB, b.DiffId, () => new MemoryStream(b.Blob));

        Assert.Equal(baseA, baseB);
        Assert.Equal(1, baseOpens);
        Assert.Equal(3, store.Layers().Count);
        Assert.Equal(3, Directory.EnumerateDirectories(Path.Combine(store.Root, "layers")).Count());
        Assert.Equal(new[] { topA, topB }.Order(StringComparer.Ordinal), store.Children(baseA).Order(StringComparer.Ordinal));
        Assert.Equal(baseA, store.ParentOf(topA));
        Assert.Equal(baseA, store.ParentOf(topB));
        Assert.Equal([store.LayerFsPath(topA), store.LayerFsPath(baseA)], store.LowerDirs(topA));

        // Both images see the one base file.
        var mntA = _scratch.Mount(store.View(topA), "a");
        var mntB = _scratch.Mount(store.View(topB), "b");
        Assert.Equal("shared", File.ReadAllText(Path.Combine(mntA, "data/base")));
        Assert.Equal("shared", File.ReadAllText(Path.Combine(mntB, "data/base")));
        Assert.False(File.Exists(Path.Combine(mntA, "data/b")));
        Assert.Equal("image b", File.ReadAllText(Path.Combine(mntB, "data/b")));
        _scratch.Unmount(mntA);
        _scratch.Unmount(mntB);

        // The base cannot go while children stand on it.
        var e = Assert.Throws<InvalidOperationException>(() => store.RemoveLayer(baseA));
        Assert.Contains(topA, e.Message);
        Assert.Contains(topB, e.Message);
        store.RemoveLayer(topA);
        store.RemoveLayer(topB);
        store.RemoveLayer(baseA);
        Assert.Empty(store.Layers());
    }

    [SkippableFact]
    public async Task Concurrent_calls_for_one_chainId_unpack_once()
    {
        var store = new SnapshotStore(_scratch.Dir("store"));
        var layer = Layer.Zstd(new TarBuilder().File("big", new string('z', 1 << 20)).Build());
        int opens = 0;
        var gate = new ManualResetEventSlim();
        Stream Open()
        {
            Interlocked.Increment(ref opens);
            gate.Wait(TimeSpan.FromSeconds(10));
            return new MemoryStream(layer.Blob);
        }
        var calls = Enumerable.Range(0, 8).Select(_ => Task.Run(() => store.EnsureLayerAsync(null, layer.DiffId, Open))).ToList();
        await Task.Delay(200);
        gate.Set();
        var ids = await Task.WhenAll(calls);
        Assert.All(ids, id => Assert.Equal(layer.DiffId, id));
        Assert.Equal(1, opens);
        Assert.Single(store.Layers());
        var usage = store.Usage(layer.DiffId);
        Assert.True(usage.Bytes >= 1 << 20, $"usage {usage.Bytes} bytes for a 1 MiB file");
        Assert.Equal(2, usage.Inodes);
    }

    [SkippableFact]
    public async Task Prepare_gives_a_writable_overlay_that_leaves_the_layers_untouched()
    {
        var store = new SnapshotStore(_scratch.Dir("store"));
        var l1 = Tar("one", "1");
        var l2 = Layer.Plain(new TarBuilder().File("data/two", "2").Build());
        var c1 = await store.EnsureLayerAsync(null, l1.DiffId, () => new MemoryStream(l1.Blob));
        var c2 = await store.EnsureLayerAsync(c1, l2.DiffId, () => new MemoryStream(l2.Blob));
        var before = TreeDescription.Of(store.LayerFsPath(c1));

        var key = "ctr-" + Guid.NewGuid().ToString("N")[..8];
        var options = store.Prepare(key, c2);
        Assert.Equal([store.LayerFsPath(c2), store.LayerFsPath(c1)], options.LowerDirs);
        Assert.StartsWith($"lowerdir={store.LayerFsPath(c2)}:{store.LayerFsPath(c1)},upperdir=", options.OverlayData());
        Assert.Throws<InvalidOperationException>(() => store.Prepare(key, c2));

        var mnt = _scratch.Mount(options, "rw");
        // A second container on the same layers at the same time, with its own upper dir.
        var other = store.Prepare(key + "-2", c2);
        var mnt2 = _scratch.Mount(other, "rw2");
        File.WriteAllText(Path.Combine(mnt2, "data/one"), "other");
        File.WriteAllText(Path.Combine(mnt, "data/one"), "changed");
        Assert.Equal("other", File.ReadAllText(Path.Combine(mnt2, "data/one")));
        _scratch.Unmount(mnt2);
        store.RemoveActive(key + "-2");
        File.Delete(Path.Combine(mnt, "data/two"));
        File.WriteAllText(Path.Combine(mnt, "new"), "new");
        Assert.Equal("changed", File.ReadAllText(Path.Combine(mnt, "data/one")));
        _scratch.Unmount(mnt);

        Assert.Equal("", TreeDescription.Diff(before, TreeDescription.Of(store.LayerFsPath(c1))));
        Assert.Equal("2", File.ReadAllText(Path.Combine(store.LayerFsPath(c2), "data/two")));
        Assert.Equal("new", File.ReadAllText(Path.Combine(options.UpperDir!, "new")));
        Assert.True(store.Usage(key).Inodes >= 3);

        // A committed layer with an active snapshot on it is not removable; the active one is.
        Assert.Contains("active:" + key, Assert.Throws<InvalidOperationException>(() => store.RemoveLayer(c2)).Message);
        store.RemoveActive(key);
        Assert.Empty(store.ActiveKeys());

        // A single layer is bound read-only.
        var view = store.View(c1);
        Assert.True(view.IsBind);
        var ro = _scratch.Mount(view, "ro");
        Assert.Equal("1", File.ReadAllText(Path.Combine(ro, "data/one")));
        var write = Assert.ThrowsAny<Exception>(() => File.WriteAllText(Path.Combine(ro, "data/x"), "x"));
        Assert.True(write is IOException or UnauthorizedAccessException, write.ToString());
        _scratch.Unmount(ro);

        store.RemoveLayer(c2);
        store.RemoveLayer(c1);
        Assert.Throws<KeyNotFoundException>(() => store.RemoveLayer(c1));
    }

    [SkippableFact]
    public async Task A_parent_that_is_not_stored_is_refused()
    {
        var store = new SnapshotStore(_scratch.Dir("store"));
        var l = Tar("x", "x");
        var missing = Tar("y", "y").DiffId;
        var e = await Assert.ThrowsAsync<KeyNotFoundException>(() => store.EnsureLayerAsync(missing, l.DiffId, () => new MemoryStream(l.Blob)));
        Assert.Contains(missing, e.Message);
        Assert.Empty(store.Layers());
    }
}
