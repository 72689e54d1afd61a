using Berth.Linux;

namespace Berth.Snapshots;

/// <summary>
/// The layers below the one being applied, top first, read to give a directory that a layer creates only
/// implicitly (as the parent of an entry) the owner, mode, xattrs and mtime it already has in the image.
/// Without this the overlay would show such a directory as 0755 root:root, since the top layer holding a
/// directory decides its attributes; umoci and a chroot unpack keep the existing ones.
/// </summary>
sealed class ParentLayers : IDisposable
{
    const string OpaqueXattr = "trusted.overlay.opaque";
    readonly List<Fd> _layers = [];

    public ParentLayers(IEnumerable<string> layerDirsTopFirst)
    {
        foreach (var dir in layerDirsTopFirst) _layers.Add(Sys.Open(dir, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW));
    }

    public sealed record DirAttributes(Libc.Stat Stat, IReadOnlyDictionary<string, byte[]> Xattrs);

    /// <summary>The directory at <paramref name="parts"/> as the merged view below shows it; null when it is not one.</summary>
    public DirAttributes? Find(string[] parts)
    {
        foreach (var layer in _layers)
        {
            using (var found = Open(layer, parts, out bool shadowed))
            {
                if (found is not null)
                {
                    var st = Sys.FStat(found);
                    if (st.FileType != Libc.S_IFDIR) return null;
                    // overlayfs' own marks (an opaque dir) stay with their layer; a layer's escaped xattrs are data and go along.
                    var xattrs = Xattrs.List($"/proc/self/fd/{found.Value}/.")
                        .Where(x => !x.Key.StartsWith("trusted.overlay.", StringComparison.Ordinal) || x.Key.StartsWith("trusted.overlay.overlay.", StringComparison.Ordinal))
                        .ToDictionary();
                    return new DirAttributes(st, xattrs);
                }
                if (shadowed) return null;
            }
            // An opaque directory on the way hides everything below it in the layers underneath.
            for (int i = 1; i < parts.Length; i++)
            {
                using var prefix = Open(layer, parts[..i], out _);
                if (prefix is not null && IsOpaque(prefix)) return null;
            }
        }
        return null;
    }

    // No symlinks at all: the merged path of a directory never runs through one, and the lower layers are
    // read, never written, so refusing them simply means "not found here".
    static Fd? Open(Fd layer, string[] parts, out bool shadowed)
    {
        shadowed = false;
        var how = new Libc.OpenHow
        {
            Flags = (ulong)(Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC),
            Resolve = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS,
        };
        int fd = Libc.openat2(layer.Value, string.Join('/', parts), how);
        if (fd >= 0) return new Fd(fd);
        var e = LinuxException.FromLastError("openat2", string.Join('/', parts));
        // A file or whiteout where a directory of the path should be hides the rest of the path.
        if (e.Errno == Errno.ENOTDIR) shadowed = true;
        else if (e.Errno is not (Errno.ENOENT or Errno.ELOOP or Errno.EXDEV)) throw e;
        return null;
    }

    static bool IsOpaque(Fd dir)
    {
        try
        {
            return Xattrs.Get($"/proc/self/fd/{dir.Value}/.", OpaqueXattr) is [(byte)'y'];
        }
        catch (LinuxException e) when (e.Errno is 61 /* ENODATA */ or Errno.ENOTDIR)
        {
            return false;
        }
    }

    public void Dispose()
    {
        foreach (var fd in _layers) fd.Dispose();
    }
}
