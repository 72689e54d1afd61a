using System.Formats.Tar;
using System.Text;
using Berth.Linux;
using Microsoft.Win32.SafeHandles;

namespace Berth.Snapshots;

/// <summary>What one layer put into its snapshot directory.</summary>
public sealed record LayerApplyStats(int Entries, int Whiteouts, int OpaqueDirectories);

/// <summary>
/// Applies a layer tar (ustar, pax, gnu) into an empty directory that becomes an overlayfs layer: files, dirs,
/// symlinks, hardlinks within the layer, devices and fifos, owners, modes with setuid/setgid/sticky, mtimes and
/// SCHILY.xattr / LIBARCHIVE.xattr records. OCI whiteouts become overlayfs ones: ".wh.NAME" a 0:0 char device
/// NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its directory. The layer's own trusted.overlay.*
/// xattrs are escaped (<see cref="EscapeOverlayXattr"/>): overlayfs would act on them as on its own.
/// Paths follow docker: absolute names are confined into the root, a relative ".." above the root rejects the
/// layer, symlinks resolve inside the root (RESOLVE_IN_ROOT, like docker's chroot), and a hardlink must name a
/// file this layer already holds. The tar may end without its end-of-archive blocks (<see cref="LayerTarReader"/>).
/// Runs as root (mknod, chown, trusted.* xattrs).
/// </summary>
public static class LayerApplier
{
    const string WhiteoutPrefix = ".wh.", WhiteoutMetaPrefix = ".wh..wh.", OpaqueMarker = ".wh..wh..opq";
    const string OpaqueXattr = "trusted.overlay.opaque";
    const string OverlayXattrPrefix = "trusted.overlay.";

    /// <param name="parentLayerDirs">The layers below, top first, whose directories lend their attributes to the
    /// directories this layer creates only implicitly.</param>
    public static LayerApplyStats Apply(Stream tar, string targetDir, IReadOnlyList<string>? parentLayerDirs = null)
    {
        using var dir = new SnapshotDir(targetDir);
        using var parents = new ParentLayers(parentLayerDirs ?? []);
        using var reader = new LayerTarReader(tar);
        // Applied at the end, when no child will be created any more; a later entry for a path replaces an earlier one.
        var dirTimes = new Dictionary<string, (string[] Parts, DateTimeOffset Mtime)>(StringComparer.Ordinal);
        dir.ImplicitDirCreated = (parent, name, parts) =>
        {
            var below = parents.Find(parts);
            if (below is null) return;
            string path = LayerPath.Join(parts);
            if (Libc.fchownat(parent.Value, name, below.Stat.Uid, below.Stat.Gid, Libc.AT_SYMLINK_NOFOLLOW) < 0)
                throw LinuxException.FromLastError("fchownat", $"implicit directory \"{path}\"");
            if (Libc.fchmodat(parent.Value, name, below.Stat.Mode & 0xfff, 0) < 0)
                throw LinuxException.FromLastError("fchmodat", $"implicit directory \"{path}\"");
            foreach (var (attr, value) in below.Xattrs) SnapshotDir.SetXattr(parent, name, attr, value, path);
            dirTimes[path] = (parts, DateTimeOffset.FromUnixTimeSeconds(below.Stat.Mtime).AddTicks(below.Stat.MtimeNsec / 100));
        };
        int entries = 0, whiteouts = 0, opaques = 0;
        TarEntry? entry;
        while ((entry = reader.Next()) is not null)
        {
            entries++;
            if (entry.EntryType == TarEntryType.GlobalExtendedAttributes) continue;
            var rawXattrs = reader.RawXattrs;
            string name = entry.Name;
            var parts = LayerPath.Clean(name);
            if (parts.Length == 0)
            {
                if (entry.EntryType != TarEntryType.Directory)
                    throw new InvalidLayerException($"layer entry \"{name}\" names the root but is a {entry.EntryType}, not a directory");
                SetMetadata(dir.Root, ".", entry, rawXattrs, name);
                dirTimes[""] = (parts, entry.ModificationTime);
                continue;
            }
            string leaf = parts[^1];
            var parentParts = parts.AsSpan(0, parts.Length - 1);
            if (leaf.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                if (leaf == OpaqueMarker)
                {
                    using var opaqueDir = dir.MkdirAll(parentParts, name);
                    SnapshotDir.SetXattr(opaqueDir, ".", OpaqueXattr, "y"u8, name);
                    opaques++;
                }
                else if (!leaf.StartsWith(WhiteoutMetaPrefix, StringComparison.Ordinal))
                {
                    string hidden = leaf[WhiteoutPrefix.Length..];
                    if (hidden is "" or "." or "..") throw new InvalidLayerException($"layer entry \"{name}\" is a whiteout of \"{hidden}\"");
                    using var parent = dir.MkdirAll(parentParts, name);
                    SnapshotDir.RemoveAll(parent, hidden);
                    if (Libc.mknodat(parent.Value, hidden, Libc.S_IFCHR, 0) < 0)
                        throw LinuxException.FromLastError("mknodat", $"whiteout for entry \"{name}\"");
                    whiteouts++;
                }
                // Other ".wh..wh." names are aufs bookkeeping that docker skips as well.
                continue;
            }
            using (var parent = dir.MkdirAll(parentParts, name))
            {
                bool isDir = entry.EntryType == TarEntryType.Directory;
                var existing = SnapshotDir.Lstat(parent, leaf);
                bool keepDir = isDir && existing?.FileType == Libc.S_IFDIR;
                if (existing is not null && !keepDir) SnapshotDir.RemoveAll(parent, leaf);
                if (!Create(dir, parent, leaf, entry, name, keepDir)) continue;
                SetMetadata(parent, leaf, entry, rawXattrs, name);
                if (isDir) dirTimes[LayerPath.Join(parts)] = (parts, entry.ModificationTime);
                else SetMtime(parent, leaf, entry.ModificationTime, name);
            }
        }
        // Setting a directory's times changes nothing in its parent, so the order does not matter here.
        foreach (var (parts, mtime) in dirTimes.Values)
        {
            if (parts.Length == 0) { SetMtime(dir.Root, ".", mtime, "/"); continue; }
            using var parent = dir.TryOpenDir(parts.AsSpan(0, parts.Length - 1), LayerPath.Join(parts));
            if (parent is not null && SnapshotDir.Lstat(parent, parts[^1])?.FileType == Libc.S_IFDIR)
                SetMtime(parent, parts[^1], mtime, LayerPath.Join(parts));
        }
        return new LayerApplyStats(entries, whiteouts, opaques);
    }

    /// <summary>Creates the entry's file; false when there is no metadata of its own to set (a hardlink).</summary>
    static bool Create(SnapshotDir dir, Fd parent, string leaf, TarEntry entry, string name, bool dirExists)
    {
        string where = $"entry \"{name}\"";
        uint perm = (uint)entry.Mode & 0xfff;
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                if (!dirExists && Libc.mkdirat(parent.Value, leaf, 0x1c0) < 0) throw LinuxException.FromLastError("mkdirat", where);
                return true;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                int fd = Libc.openat(parent.Value, leaf, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180);
                if (fd < 0) throw LinuxException.FromLastError("openat", where);
                using (var file = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 1))
                    entry.DataStream?.CopyTo(file, 1 << 20);
                return true;
            case TarEntryType.SymbolicLink:
                if (entry.LinkName.Length == 0 || entry.LinkName.Contains('\0'))
                    throw new InvalidLayerException($"layer entry \"{name}\" is a symlink with an empty or NUL target");
                if (Libc.symlinkat(entry.LinkName, parent.Value, leaf) < 0) throw LinuxException.FromLastError("symlinkat", where);
                return true;
            case TarEntryType.HardLink:
                Link(dir, parent, leaf, entry.LinkName, name);
                return false;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                var (type, dev) = TarSpecialFile.Node(entry);
                if (Libc.mknodat(parent.Value, leaf, type | (perm & 0x1ff), dev) < 0) throw LinuxException.FromLastError("mknodat", where);
                return true;
            default:
                throw new InvalidLayerException($"layer entry \"{name}\" has type {entry.EntryType}, which Berth does not unpack");
        }
    }

    static void Link(SnapshotDir dir, Fd parent, string leaf, string linkName, string name)
    {
        var target = LayerPath.Clean(linkName, $"hardlink target of entry \"{name}\"");
        if (target.Length == 0) throw new InvalidLayerException($"layer entry \"{name}\" is a hardlink to the root directory");
        using var targetParent = dir.TryOpenDir(target.AsSpan(0, target.Length - 1), name);
        var st = targetParent is null ? null : SnapshotDir.Lstat(targetParent, target[^1]);
        if (st is null)
            throw new InvalidLayerException($"layer entry \"{name}\" is a hardlink to \"{linkName}\", which this layer does not contain");
        if (st.Value.FileType == Libc.S_IFDIR)
            throw new InvalidLayerException($"layer entry \"{name}\" is a hardlink to the directory \"{linkName}\"");
        if (Libc.linkat(targetParent!.Value, target[^1], parent.Value, leaf, 0) < 0)
            throw LinuxException.FromLastError("linkat", $"entry \"{name}\" -> \"{linkName}\"");
    }

    /// <summary>Owner, then mode (a chown clears setuid/setgid), then xattrs; never through a final symlink.</summary>
    static void SetMetadata(Fd parent, string leaf, TarEntry entry, Dictionary<string, byte[]>? rawXattrs, string name)
    {
        string where = $"entry \"{name}\"";
        if (Libc.fchownat(parent.Value, leaf, (uint)entry.Uid, (uint)entry.Gid, Libc.AT_SYMLINK_NOFOLLOW) < 0)
            throw LinuxException.FromLastError("fchownat", where);
        if (entry.EntryType != TarEntryType.SymbolicLink &&
            Libc.fchmodat(parent.Value, leaf, (uint)entry.Mode & 0xfff, 0) < 0)
            throw LinuxException.FromLastError("fchmodat", where);
        if (entry is PaxTarEntry pax)
            foreach (var (attr, value) in Xattrs(pax, rawXattrs, name))
                SnapshotDir.SetXattr(parent, leaf, attr, value, name);
    }

    /// <summary>The xattrs a PAX header carries: SCHILY.xattr.NAME (Go, GNU tar) and LIBARCHIVE.xattr.NAME (base64).</summary>
    /// <param name="raw">The SCHILY.xattr values as the archive holds them (<see cref="PaxXattrTap"/>), used
    /// instead of TarReader's UTF-8-decoded text.</param>
    internal static IEnumerable<(string Name, byte[] Value)> Xattrs(PaxTarEntry entry, IReadOnlyDictionary<string, byte[]>? raw, string entryName)
    {
        foreach (var (key, value) in entry.ExtendedAttributes)
        {
            if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
            {
                string attr = key["SCHILY.xattr.".Length..];
                if (raw is not null && raw.TryGetValue(attr, out var bytes))
                {
                    yield return (EscapeOverlayXattr(attr), bytes);
                    continue;
                }
                // Without the raw bytes, a value that was not valid UTF-8 arrives altered: refused, not written wrong.
                if (value.Contains('\uFFFD'))
                    throw new InvalidLayerException(
                        $"layer entry \"{entryName}\": xattr {key["SCHILY.xattr.".Length..]} has a binary value that is not valid UTF-8 and its raw bytes are unavailable");
                yield return (EscapeOverlayXattr(attr), Encoding.UTF8.GetBytes(value));
            }
            else if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
            {
                byte[] decoded;
                try
                {
                    decoded = Convert.FromBase64String(value.PadRight((value.Length + 3) / 4 * 4, '='));
                }
                catch (FormatException)
                {
                    throw new InvalidLayerException($"layer entry \"{entryName}\": {key} is not base64");
                }
                yield return (EscapeOverlayXattr(Uri.UnescapeDataString(key["LIBARCHIVE.xattr.".Length..])), decoded);
            }
        }
    }

    /// <summary>
    /// An xattr of the layer in overlayfs' namespace, written as overlayfs' escape of it: "trusted.overlay.NAME"
    /// becomes "trusted.overlay.overlay.NAME". Written as it came, it would act on the mount (an opaque directory,
    /// a redirect, a metacopy) without the layer saying so in OCI terms. overlayfs never acts on the escaped name and
    /// (since Linux 6.7) shows it through the mount as the plain one, so the container still reads the image's xattr.
    /// containerd and moby apply these xattrs unchanged; the escape is the kernel's rule for nested overlays.
    /// </summary>
    internal static string EscapeOverlayXattr(string name) =>
        name.StartsWith(OverlayXattrPrefix, StringComparison.Ordinal) ? OverlayXattrPrefix + "overlay." + name[OverlayXattrPrefix.Length..] : name;

    static unsafe void SetMtime(Fd parent, string leaf, DateTimeOffset mtime, string name)
    {
        long ticks = mtime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0) { sec--; rest += TimeSpan.TicksPerSecond; }
        var times = stackalloc Libc.Timespec[2];
        times[0] = times[1] = new Libc.Timespec { Sec = sec, Nsec = rest * 100 };
        if (Libc.utimensat(parent.Value, leaf, times, Libc.AT_SYMLINK_NOFOLLOW) < 0)
            throw LinuxException.FromLastError("utimensat", $"entry \"{name}\"");
    }
}
