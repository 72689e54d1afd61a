using System.Collections.Concurrent;
using Berth.Linux;

namespace Berth.Snapshots;

/// <summary>
/// How to mount a snapshot: overlay lower dirs top-first, and the upper and work dirs of an active snapshot.
/// No upper and one lower is a read-only bind of that layer; no lower is a bind of the upper alone.
/// </summary>
public sealed record OverlayMount(IReadOnlyList<string> LowerDirs, string? UpperDir, string? WorkDir)
{
    public bool IsBind => UpperDir is null ? LowerDirs.Count == 1 : LowerDirs.Count == 0;

    /// <summary>The overlay mount data: lowerdir=TOP:...:BOTTOM[,upperdir=...,workdir=...,index=off].</summary>
    public string OverlayData()
    {
        foreach (var d in LowerDirs.Append(UpperDir ?? "").Append(WorkDir ?? ""))
            if (d.IndexOfAny([',', ':']) >= 0) throw new ArgumentException($"overlay directory \"{d}\" contains ',' or ':'");
        var data = "lowerdir=" + string.Join(':', LowerDirs);
        // index=off as docker passes it: the inodes index would tie a shared lower layer to one upper dir, and
        // whether it is on by default is a kernel build option.
        if (UpperDir is not null) data += $",upperdir={UpperDir},workdir={WorkDir},index=off";
        return data;
    }
}

/// <summary>Disk usage of one snapshot: bytes allocated and inodes, hardlinked inodes counted once.</summary>
public sealed record SnapshotUsage(long Bytes, long Inodes);

/// <summary>
/// Layer snapshots under a root directory, keyed by chain ID, and active (writable) snapshots keyed by a name.
/// Layout: layers/HEX/{fs,parent} committed layers (never modified once there), active/KEY/{upper,work,parent},
/// tmp/ for unpacks in progress, which become a layer by one rename. One store owns its root (the daemon's
/// data-root lock guarantees it), so leftovers in tmp/ are from a crash and are removed when it opens.
/// </summary>
public sealed class SnapshotStore
{
    readonly ConcurrentDictionary<string, Lazy<Task<string>>> _unpacking = new();
    readonly object _removeLock = new();

    public SnapshotStore(string root)
    {
        Root = Path.GetFullPath(root);
        foreach (var d in new[] { Root, LayersDir, ActiveDir }) Directory.CreateDirectory(d);
        if (Directory.Exists(TmpDir)) Directory.Delete(TmpDir, recursive: true);
        Directory.CreateDirectory(TmpDir);
    }

    public string Root { get; }
    string LayersDir => Path.Combine(Root, "layers");
    string ActiveDir => Path.Combine(Root, "active");
    string TmpDir => Path.Combine(Root, "tmp");

    string LayerDir(string chainId)
    {
        LayerDigests.Validate(chainId, "chainID");
        return Path.Combine(LayersDir, LayerDigests.Hex(chainId));
    }

    /// <summary>The directory holding the layer's files (an overlay lower dir).</summary>
    public string LayerFsPath(string chainId) => Path.Combine(LayerDir(chainId), "fs");

    public bool Exists(string chainId) => Directory.Exists(LayerDir(chainId));

    /// <summary>The committed layers' chain IDs.</summary>
    public IReadOnlyList<string> Layers() =>
        [.. Directory.EnumerateDirectories(LayersDir).Select(d => "sha256:" + Path.GetFileName(d)).Order(StringComparer.Ordinal)];

    /// <summary>The active snapshots' keys.</summary>
    public IReadOnlyList<string> ActiveKeys() =>
        [.. Directory.EnumerateDirectories(ActiveDir).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal)];

    public string? ParentOf(string chainId)
    {
        var file = Path.Combine(LayerDir(chainId), "parent");
        if (!Directory.Exists(LayerDir(chainId))) throw new KeyNotFoundException($"no snapshot for layer {chainId} in {Root}");
        var text = File.ReadAllText(file).Trim();
        return text.Length == 0 ? null : text;
    }

    /// <summary>Layers and active snapshots whose parent is <paramref name="chainId"/>.</summary>
    public IReadOnlyList<string> Children(string chainId)
    {
        var children = Layers().Where(l => ParentOf(l) == chainId).ToList();
        children.AddRange(ActiveKeys().Where(k => ReadParent(Path.Combine(ActiveDir, k)) == chainId).Select(k => "active:" + k));
        return children;
    }

    /// <summary>
    /// Makes sure the layer <paramref name="diffId"/> on top of <paramref name="parentChainId"/> is unpacked and
    /// returns its chain ID. Unpacks only when missing; concurrent calls for one chain ID share one unpack; the
    /// layer appears by a rename once complete and verified, and a failed unpack leaves nothing behind.
    /// </summary>
    public async Task<string> EnsureLayerAsync(string? parentChainId, string diffId, Func<Stream> openCompressedLayer)
    {
        string chainId = LayerDigests.ChainId(parentChainId, diffId);
        if (parentChainId is not null && !Exists(parentChainId))
            throw new KeyNotFoundException($"cannot unpack layer {diffId}: its parent layer {parentChainId} has no snapshot in {Root}");
        if (Exists(chainId)) return chainId;
        var unpack = _unpacking.GetOrAdd(chainId, id => new Lazy<Task<string>>(
            () => Task.Run(() => Unpack(id, parentChainId, diffId, openCompressedLayer))));
        try
        {
            return await unpack.Value.ConfigureAwait(false);
        }
        finally
        {
            _unpacking.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(chainId, unpack));
        }
    }

    string Unpack(string chainId, string? parentChainId, string diffId, Func<Stream> openCompressedLayer)
    {
        if (Exists(chainId)) return chainId;
        var temp = Path.Combine(TmpDir, $"{LayerDigests.Hex(chainId)}-{Guid.NewGuid():N}");
        try
        {
            var fs = Path.Combine(temp, "fs");
            Directory.CreateDirectory(temp);
            Directory.CreateDirectory(fs);
            File.SetUnixFileMode(fs, (UnixFileMode)0x1ed);
            using (var layer = LayerDecompression.Open(openCompressedLayer(), diffId))
            {
                try
                {
                    LayerApplier.Apply(layer, fs, parentChainId is null ? null : LowerDirs(parentChainId));
                }
                catch (InvalidLayerException e)
                {
                    throw new InvalidLayerException($"layer {diffId}: {e.Message}", e);
                }
                catch (Exception e) when (e is LinuxException or IOException)
                {
                    // A full disk shows here: say which layer and where, beside the system's words.
                    throw new IOException($"unpacking layer {diffId} into {fs}: {e.Message}", e);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidLayerException($"layer {diffId}: corrupt {layer.Compression} data: {e.Message}", e);
                }
                layer.Verify();
            }
            File.WriteAllText(Path.Combine(temp, "parent"), parentChainId ?? "");
            File.WriteAllText(Path.Combine(temp, "size"), MeasureContent(fs).ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (Libc.renameat2(Libc.AT_FDCWD, temp, Libc.AT_FDCWD, LayerDir(chainId), Libc.RENAME_NOREPLACE) < 0)
            {
                var e = LinuxException.FromLastError("rename", $"{temp} to {LayerDir(chainId)}");
                if (e.Errno != Errno.EEXIST) throw e;
                // Someone else committed the same layer first: theirs is identical, keep it.
                Directory.Delete(temp, recursive: true);
            }
            return chainId;
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>The layer chain's fs dirs, top first.</summary>
    public IReadOnlyList<string> LowerDirs(string chainId)
    {
        var dirs = new List<string>();
        for (string? id = chainId; id is not null; id = ParentOf(id))
        {
            if (!Exists(id)) throw new KeyNotFoundException($"no snapshot for layer {id} (in the chain of {chainId}) in {Root}");
            dirs.Add(LayerFsPath(id));
        }
        return dirs;
    }

    /// <summary>Creates the active snapshot <paramref name="key"/> (upper + work dirs) over a layer chain, or over nothing.</summary>
    public OverlayMount Prepare(string key, string? parentChainId)
    {
        ValidateKey(key);
        var lowers = parentChainId is null ? [] : LowerDirs(parentChainId);
        var dir = Path.Combine(ActiveDir, key);
        if (Libc.mkdirat(Libc.AT_FDCWD, dir, 0x1c0) < 0)
        {
            var e = LinuxException.FromLastError("mkdir", dir);
            throw e.Errno == Errno.EEXIST ? new InvalidOperationException($"active snapshot \"{key}\" already exists in {Root}") : e;
        }
        Directory.CreateDirectory(Path.Combine(dir, "upper"));
        Directory.CreateDirectory(Path.Combine(dir, "work"));
        File.SetUnixFileMode(Path.Combine(dir, "upper"), (UnixFileMode)0x1ed);
        File.WriteAllText(Path.Combine(dir, "parent"), parentChainId ?? "");
        return MountOf(key, lowers);
    }

    /// <summary>The mount of an existing active snapshot.</summary>
    public OverlayMount ActiveMount(string key)
    {
        ValidateKey(key);
        var dir = Path.Combine(ActiveDir, key);
        if (!Directory.Exists(dir)) throw new KeyNotFoundException($"no active snapshot \"{key}\" in {Root}");
        var parent = ReadParent(dir);
        return MountOf(key, parent is null ? [] : LowerDirs(parent));
    }

    OverlayMount MountOf(string key, IReadOnlyList<string> lowers)
    {
        var dir = Path.Combine(ActiveDir, key);
        return new OverlayMount(lowers, Path.Combine(dir, "upper"), Path.Combine(dir, "work"));
    }

    /// <summary>A read-only view of a layer chain (a bind of a single layer, else an overlay of lower dirs only).</summary>
    public OverlayMount View(string chainId) => new(LowerDirs(chainId), null, null);

    public static void Mount(OverlayMount options, string target)
    {
        if (options.UpperDir is null && options.LowerDirs.Count == 0) throw new ArgumentException("a mount needs a lower or an upper dir");
        if (options.IsBind)
        {
            string source = options.UpperDir ?? options.LowerDirs[0];
            if (Libc.mount(source, target, null, Libc.MS_BIND, null) < 0) throw LinuxException.FromLastError("mount(bind)", $"{source} on {target}");
            if (options.UpperDir is null &&
                Libc.mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY, null) < 0)
            {
                var e = LinuxException.FromLastError("mount(remount ro)", target);
                Libc.umount2(target, Libc.MNT_DETACH);
                throw e;
            }
            return;
        }
        var data = options.OverlayData();
        // The kernel takes mount data in one page.
        if (data.Length >= 4096)
            throw new InvalidOperationException($"overlay mount data for {target} is {data.Length} bytes ({options.LowerDirs.Count} layers), over the kernel's 4095");
        ulong flags = options.UpperDir is null ? Libc.MS_RDONLY : 0;
        if (Libc.mount("overlay", target, "overlay", flags, data) < 0) throw LinuxException.FromLastError("mount(overlay)", $"{target} ({data})");
    }

    public static void Unmount(string target)
    {
        if (Libc.umount2(target, 0) < 0) throw LinuxException.FromLastError("umount", target);
    }

    /// <summary>Removes a committed layer; refused while layers or active snapshots are on top of it.</summary>
    public void RemoveLayer(string chainId)
    {
        lock (_removeLock)
        {
            if (!Exists(chainId)) throw new KeyNotFoundException($"no snapshot for layer {chainId} in {Root}");
            var children = Children(chainId);
            if (children.Count > 0)
                throw new InvalidOperationException($"snapshot {chainId} is the parent of {string.Join(", ", children)}: remove those first");
            RemoveByRename(LayerDir(chainId));
        }
    }

    /// <summary>Removes an active snapshot (its upper and work dirs); it must be unmounted.</summary>
    public void RemoveActive(string key)
    {
        ValidateKey(key);
        var dir = Path.Combine(ActiveDir, key);
        if (!Directory.Exists(dir)) throw new KeyNotFoundException($"no active snapshot \"{key}\" in {Root}");
        RemoveByRename(dir);
    }

    // Renamed away first, so a removal cut short never leaves a half-deleted snapshot under its name.
    void RemoveByRename(string dir)
    {
        var doomed = Path.Combine(TmpDir, $"removing-{Path.GetFileName(dir)}-{Guid.NewGuid():N}");
        Directory.Move(dir, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>
    /// The bytes of a committed layer's files as docker counts an image's size: the sizes of everything but
    /// directories, a hardlinked file once. Measured when the layer is committed (layers never change) and kept
    /// beside it, so listing images does not walk their trees.
    /// </summary>
    public long ContentSize(string chainId)
    {
        string file = Path.Combine(LayerDir(chainId), "size");
        if (File.Exists(file) && long.TryParse(File.ReadAllText(file), System.Globalization.CultureInfo.InvariantCulture, out long size)) return size;
        string fs = LayerFsPath(chainId);
        if (!Directory.Exists(fs)) throw new KeyNotFoundException($"no snapshot \"{chainId}\" in {Root}");
        return MeasureContent(fs);
    }

    static long MeasureContent(string dir) => Measure(dir).FileBytes;

    /// <summary>Disk usage of a committed layer (a chain ID) or of an active snapshot's upper dir (a key).</summary>
    public SnapshotUsage Usage(string chainIdOrKey)
    {
        string dir = LayerDigests.IsValid(chainIdOrKey) ? LayerFsPath(chainIdOrKey) : Path.Combine(ActiveDir, Key(chainIdOrKey), "upper");
        if (!Directory.Exists(dir)) throw new KeyNotFoundException($"no snapshot \"{chainIdOrKey}\" in {Root}");
        var (diskBytes, _, inodes) = Measure(dir);
        return new SnapshotUsage(diskBytes, inodes);
    }

    /// <summary>
    /// One walk for both measures: blocks on disk and inodes (every entry), and the files' own sizes (everything
    /// but directories, as docker counts an image). A hardlinked file counts once; lstat decides what to descend
    /// into, so a symlink to a directory is counted, never followed.
    /// </summary>
    static (long DiskBytes, long FileBytes, long Inodes) Measure(string dir)
    {
        var seen = new HashSet<(ulong, ulong)>();
        long diskBytes = 0, fileBytes = 0, inodes = 0;
        void Walk(string path)
        {
            if (Libc.fstatat(Libc.AT_FDCWD, path, out var st, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw LinuxException.FromLastError("lstat", path);
            bool isDir = st.FileType == Libc.S_IFDIR;
            if (st.Nlink > 1 && !isDir && !seen.Add((st.Dev, st.Ino))) return;
            diskBytes += st.Blocks * 512;
            inodes++;
            if (!isDir)
            {
                fileBytes += st.Size;
                return;
            }
            foreach (var child in Directory.EnumerateFileSystemEntries(path)) Walk(child);
        }
        Walk(dir);
        return (diskBytes, fileBytes, inodes);
    }

    static string Key(string key)
    {
        ValidateKey(key);
        return key;
    }

    static void ValidateKey(string key)
    {
        if (key.Length is 0 or > 128 || key[0] == '.' || key.AsSpan().IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") >= 0)
            throw new ArgumentException($"invalid active snapshot key \"{key}\": 1-128 of [A-Za-z0-9_.-], not starting with '.'");
    }

    static string? ReadParent(string dir)
    {
        var file = Path.Combine(dir, "parent");
        if (!File.Exists(file)) return null;
        var text = File.ReadAllText(file).Trim();
        return text.Length == 0 ? null : text;
    }
}
