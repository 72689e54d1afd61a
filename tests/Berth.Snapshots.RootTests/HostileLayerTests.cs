using Berth.Linux;

namespace Berth.Snapshots.RootTests;

/// <summary>
/// Layers that try to write outside their snapshot. Policy (docker's): a relative ".." above the root rejects the
/// layer naming the entry; absolute names and symlinks are confined into the snapshot (symlinks resolve as in a
/// chroot); a hardlink must name a file of the same layer. A canary directory next to the store must not change.
/// </summary>
public sealed class HostileLayerTests : IDisposable
{
    readonly Scratch _scratch = new();
    readonly string _canary;
    readonly SnapshotStore _store;
    readonly string _passwdBefore;

    public HostileLayerTests()
    {
        _canary = _scratch.Dir("canary");
        File.WriteAllText(Path.Combine(_canary, "keep"), "canary\n");
        _store = new SnapshotStore(_scratch.Dir("store"));
        _passwdBefore = TreeDescription.Describe("/etc/passwd").Item1;
    }

    public void Dispose()
    {
        _scratch.Dispose();
    }

    // Deep enough to climb out of STORE/tmp/ID/fs up to the scratch dir and beyond.
    static readonly string Up = string.Concat(Enumerable.Repeat("../", 12));

    void AssertNothingEscaped()
    {
        var canary = TreeDescription.Of(_canary);
        Assert.Equal(["/keep"], canary.Keys);
        Assert.DoesNotContain(Xattrs.List(_canary).Keys, k => k.StartsWith("trusted.overlay", StringComparison.Ordinal));
        Assert.Equal(["canary", "store"], Directory.EnumerateFileSystemEntries(_scratch.Path).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_store.Root, "tmp")));
        Assert.Equal(_passwdBefore, TreeDescription.Describe("/etc/passwd").Item1);
        Assert.False(File.Exists("/evil-berth-snapshot-test"));
    }

    async Task<InvalidLayerException> Rejected(byte[] tar, params string[] messageParts)
    {
        var layer = Layer.Plain(tar);
        var e = await Assert.ThrowsAsync<InvalidLayerException>(() => _store.EnsureLayerAsync(null, layer.DiffId, () => new MemoryStream(layer.Blob)));
        foreach (var part in messageParts) Assert.Contains(part, e.Message);
        Assert.False(_store.Exists(layer.DiffId));
        Assert.Empty(_store.Layers());
        AssertNothingEscaped();
        return e;
    }

    async Task<string> Confined(byte[] tar)
    {
        var layer = Layer.Plain(tar);
        var id = await _store.EnsureLayerAsync(null, layer.DiffId, () => new MemoryStream(layer.Blob));
        AssertNothingEscaped();
        return _store.LayerFsPath(id);
    }

    [SkippableFact]
    public async Task Dotdot_paths_reject_the_layer_naming_the_entry()
    {
        var name = Up + "canary/evil";
        await Rejected(new TarBuilder().File("ok", "fine").File(name, "pwned").Build(), name, "outside the snapshot");
        await Rejected(new TarBuilder().Dir("a/").File("a/" + Up + "canary/evil2", "pwned").Build(), "outside the snapshot");
        await Rejected(new TarBuilder().File(Up + "canary/.wh.keep", "").Build(), "outside the snapshot");
        await Rejected(new TarBuilder().Symlink(Up + "canary/link", "/").Build(), "outside the snapshot");
    }

    [SkippableFact]
    public async Task Absolute_paths_are_confined_into_the_snapshot()
    {
        var abs = Path.Combine(_canary, "evil");
        var fs = await Confined(new TarBuilder().File(abs, "confined").File("/evil-berth-snapshot-test", "also confined").File("/../../x", "x").Build());
        Assert.Equal("confined", File.ReadAllText(fs + abs));
        Assert.True(File.Exists(Path.Combine(fs, "evil-berth-snapshot-test")));
        Assert.True(File.Exists(Path.Combine(fs, "x")));
    }

    [SkippableFact]
    public async Task Files_through_symlinks_made_by_earlier_entries_stay_inside()
    {
        var fs = await Confined(new TarBuilder()
            .Symlink("root", "/")
            .File("root" + _canary + "/via-root", "confined")
            .Symlink("up", Up.TrimEnd('/'))
            .File("up" + _canary + "/via-up", "confined")
            .Symlink("canary", _canary)
            .File("canary/via-abs", "confined")
            .Dir("d/")
            .Symlink("d/rel", "../../../../../../../../../../..")
            .File("d/rel/evil-berth-snapshot-test", "confined")
            .Build());
        Assert.Equal("confined", File.ReadAllText(fs + _canary + "/via-root"));
        Assert.Equal("confined", File.ReadAllText(fs + _canary + "/via-up"));
        Assert.Equal("confined", File.ReadAllText(fs + _canary + "/via-abs"));
        Assert.True(File.Exists(Path.Combine(fs, "evil-berth-snapshot-test")));
        // The symlinks themselves are kept as the layer wrote them.
        Assert.Equal("/", new FileInfo(Path.Combine(fs, "root")).LinkTarget);
    }

    [SkippableFact]
    public async Task Whiteouts_and_opaque_markers_through_symlinks_do_not_touch_the_target()
    {
        // The symlink resolves inside the snapshot, where the canary's path does not exist: refused.
        var e = await Rejected(new TarBuilder().Symlink("c", _canary).File("c/.wh.keep", "").Build(), "dangling symlink");
        Assert.Contains("c/.wh.keep", e.Message);
        e = await Rejected(new TarBuilder().Symlink("c", _canary).File("c/.wh..wh..opq", "").Build(), "dangling symlink");
        Assert.Contains("c/.wh..wh..opq", e.Message);
        // Where it does resolve, the whiteout and the opaque marker land inside the snapshot.
        var fs = await Confined(new TarBuilder().Dir("inside/").File("inside/keep", "k").Symlink("c", "/inside")
            .File("c/.wh.keep", "").File("c/.wh..wh..opq", "").Build());
        Assert.StartsWith("chr mode=0 owner=0:0 dev=0:0", TreeDescription.Describe(Path.Combine(fs, "inside/keep")).Item1);
        Assert.Equal("y"u8.ToArray(), Xattrs.Get(Path.Combine(fs, "inside"), "trusted.overlay.opaque"));
    }

    [SkippableFact]
    public async Task Hardlinks_outside_the_layer_are_refused()
    {
        await Rejected(new TarBuilder().Hardlink("pw", "/etc/passwd").Build(), "\"pw\"", "/etc/passwd", "does not contain");
        await Rejected(new TarBuilder().Hardlink("pw", Up + "etc/passwd").Build(), "outside the snapshot");
        await Rejected(new TarBuilder().Symlink("etc", "/etc").Hardlink("pw", "etc/passwd").Build(), "symlink loop");
        await Rejected(new TarBuilder().Symlink("etc", "/../../etc").Hardlink("pw", "etc/passwd").Build(), "symlink loop");
        await Rejected(new TarBuilder().Symlink("e", Up + "etc").Hardlink("pw", "e/passwd").Build(), "does not contain");
        await Rejected(new TarBuilder().Symlink("keep", Path.Combine(_canary, "keep")).Dir("x/").Hardlink("x/k", "keep").Hardlink("x/k2", _canary.TrimStart('/') + "/keep").Build(),
            "does not contain");
        // Within the layer a hardlink works, also through an absolute name (confined like every other name).
        var fs = await Confined(new TarBuilder().File("etc/passwd", "layer's own\n").Hardlink("pw", "/etc/passwd").Build());
        Assert.Equal(2L, (long)StatOf(Path.Combine(fs, "pw")).Nlink);
    }

    /// <summary>
    /// overlayfs reads trusted.overlay.* xattrs of its lower dirs as its own: a layer that carries them could make a
    /// directory opaque, a file a whiteout target or a redirect without saying so in OCI terms. They are written with
    /// the kernel's escape prefix (trusted.overlay.overlay.NAME), which overlayfs shows as the plain xattr
    /// trusted.overlay.NAME and never acts on. (containerd and moby write them as they are; docker 20.10 was seen
    /// to load such an opaque xattr into its overlay2 layer.)
    /// </summary>
    [SkippableFact]
    public async Task Overlay_xattrs_of_a_layer_are_escaped_and_do_not_act_on_the_mount()
    {
        var lower = Layer.Plain(new TarBuilder().Dir("d/").File("d/lower", "from below\n").Dir("e/").File("e/lower", "from below\n").Build());
        var upper = Layer.Plain(new TarBuilder()
            .Dir("d/", xattrs: new Dictionary<string, string> { ["trusted.overlay.opaque"] = "y" })
            .File("d/upper", "from above\n")
            .Dir("e/", xattrs: new Dictionary<string, string> { ["trusted.overlay.overlay.opaque"] = "y", ["trusted.overlay.redirect"] = "/d" })
            .Build());
        var bottom = await _store.EnsureLayerAsync(null, lower.DiffId, () => new MemoryStream(lower.Blob));
        var top = await _store.EnsureLayerAsync(bottom, upper.DiffId, () => new MemoryStream(upper.Blob));
        AssertNothingEscaped();

        var fs = _store.LayerFsPath(top);
        Assert.Equal(["trusted.overlay.overlay.opaque"], Xattrs.List(Path.Combine(fs, "d")).Keys);
        Assert.Equal(["trusted.overlay.overlay.overlay.opaque", "trusted.overlay.overlay.redirect"], Xattrs.List(Path.Combine(fs, "e")).Keys);

        var mnt = _scratch.Mount(_store.View(top), "view");
        Assert.Equal(["lower", "upper"], Directory.EnumerateFileSystemEntries(Path.Combine(mnt, "d")).Select(Path.GetFileName).Order());
        Assert.Equal(["lower"], Directory.EnumerateFileSystemEntries(Path.Combine(mnt, "e")).Select(Path.GetFileName));
        // Through the mount the image's xattrs read back as it wrote them (kernels from 6.7 unescape one level).
        Assert.Equal("y"u8.ToArray(), Xattrs.Get(Path.Combine(mnt, "d"), "trusted.overlay.opaque"));
        Assert.Equal("y"u8.ToArray(), Xattrs.Get(Path.Combine(mnt, "e"), "trusted.overlay.overlay.opaque"));
        _scratch.Unmount(mnt);
    }

    static Libc.Stat StatOf(string path)
    {
        Assert.Equal(0, Libc.fstatat(Libc.AT_FDCWD, path, out var st, Libc.AT_SYMLINK_NOFOLLOW));
        return st;
    }
}
