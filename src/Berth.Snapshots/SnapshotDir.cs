using System.Text;
using Berth.Linux;

namespace Berth.Snapshots;

/// <summary>
/// A snapshot directory being written, held by an O_PATH fd. Every path is resolved from that fd with openat2
/// (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so ".." and symlinks made by earlier entries stay inside it, as a
/// chroot would keep them; the final component is then acted on with an *at call that does not follow it.
/// </summary>
sealed unsafe class SnapshotDir : IDisposable
{
    readonly Fd _root;

    public SnapshotDir(string path)
    {
        _root = Sys.Open(path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW);
        Path = path;
    }

    public string Path { get; }
    public Fd Root => _root;

    /// <summary>Called after MkdirAll creates a directory the layer did not list: (parent fd, name, its path parts).</summary>
    public Action<Fd, string, string[]>? ImplicitDirCreated { get; set; }

    /// <summary>Opens the directory at <paramref name="parts"/> (O_PATH); null when it does not exist.</summary>
    public Fd? TryOpenDir(ReadOnlySpan<string> parts, string entry)
    {
        var how = new Libc.OpenHow
        {
            Flags = (ulong)(Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC),
            Resolve = Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS,
        };
        string rel = parts.Length == 0 ? "." : string.Join('/', parts.ToArray());
        int fd = Libc.openat2(_root.Value, rel, how);
        if (fd >= 0) return new Fd(fd);
        var e = LinuxException.FromLastError("openat2", $"\"{rel}\" in {Path} (entry \"{entry}\")");
        if (e.Errno == Errno.ENOENT) return null;
        if (e.Errno == Errno.ENOTDIR) throw new InvalidLayerException($"layer entry \"{entry}\": a component of \"{rel}\" is not a directory");
        if (e.Errno == Errno.ELOOP) throw new InvalidLayerException($"layer entry \"{entry}\": \"{rel}\" runs into a symlink loop");
        throw e;
    }

    /// <summary>Opens the directory at <paramref name="parts"/>, creating missing ones (0755, root-owned) one by one.</summary>
    public Fd MkdirAll(ReadOnlySpan<string> parts, string entry)
    {
        var whole = TryOpenDir(parts, entry);
        if (whole is not null) return whole;
        Fd current = new(DupRoot());
        for (int i = 0; i < parts.Length; i++)
        {
            var next = TryOpenDir(parts[..(i + 1)], entry);
            if (next is null)
            {
                if (Libc.mkdirat(current.Value, parts[i], 0x1ed) < 0)
                {
                    var e = LinuxException.FromLastError("mkdirat", $"\"{string.Join('/', parts[..(i + 1)].ToArray())}\" (entry \"{entry}\")");
                    if (e.Errno != Errno.EEXIST) { current.Dispose(); throw e; }
                }
                else ImplicitDirCreated?.Invoke(current, parts[i], parts[..(i + 1)].ToArray());
                next = TryOpenDir(parts[..(i + 1)], entry);
                if (next is null)
                {
                    current.Dispose();
                    throw new InvalidLayerException(
                        $"layer entry \"{entry}\": \"{string.Join('/', parts[..(i + 1)].ToArray())}\" is a dangling symlink, not a directory");
                }
            }
            current.Dispose();
            current = next;
        }
        return current;
    }

    int DupRoot()
    {
        int fd = Libc.fcntl(_root.Value, Libc.F_DUPFD_CLOEXEC, 0);
        if (fd < 0) throw LinuxException.FromLastError("fcntl(F_DUPFD_CLOEXEC)", Path);
        return fd;
    }

    /// <summary>lstat of a name in a directory; null when it does not exist.</summary>
    public static Libc.Stat? Lstat(Fd dir, string name)
    {
        if (Libc.fstatat(dir.Value, name, out var st, Libc.AT_SYMLINK_NOFOLLOW) == 0) return st;
        var e = LinuxException.FromLastError("fstatat", name);
        if (e.Errno == Errno.ENOENT) return null;
        throw e;
    }

    /// <summary>Removes a name and, for a directory, everything under it, without following symlinks.</summary>
    public static void RemoveAll(Fd dir, string name)
    {
        var st = Lstat(dir, name);
        if (st is null) return;
        if (st.Value.FileType == Libc.S_IFDIR)
        {
            using (var child = Sys.OpenAt(dir, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW))
            {
                var names = Directory.EnumerateFileSystemEntries($"/proc/self/fd/{child.Value}")
                    .Select(System.IO.Path.GetFileName).ToList();
                foreach (var n in names) RemoveAll(child, n!);
            }
            if (Libc.unlinkat(dir.Value, name, Libc.AT_REMOVEDIR) < 0) throw LinuxException.FromLastError("rmdir", name);
        }
        else if (Libc.unlinkat(dir.Value, name, 0) < 0) throw LinuxException.FromLastError("unlink", name);
    }

    /// <summary>Sets an xattr on a name in a directory without following it (lsetxattr through the dir fd's /proc link).</summary>
    public static void SetXattr(Fd dir, string name, string attr, ReadOnlySpan<byte> value, string entry)
    {
        string path = $"/proc/self/fd/{dir.Value}/{name}";
        fixed (byte* p = value)
        {
            if (Libc.lsetxattr(path, attr, p, (nuint)value.Length, 0) < 0)
                throw LinuxException.FromLastError("lsetxattr", $"{attr} on entry \"{entry}\"");
        }
    }

    public void Dispose() => _root.Dispose();
}

/// <summary>Reads xattrs of a path without following a final symlink (used to compare trees).</summary>
public static unsafe class Xattrs
{
    public static SortedDictionary<string, byte[]> List(string path)
    {
        var result = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        nint size = Libc.llistxattr(path, null, 0);
        if (size < 0) throw LinuxException.FromLastError("llistxattr", path);
        if (size == 0) return result;
        var names = new byte[size];
        fixed (byte* p = names)
        {
            size = Libc.llistxattr(path, p, (nuint)names.Length);
            if (size < 0) throw LinuxException.FromLastError("llistxattr", path);
        }
        foreach (var name in Encoding.UTF8.GetString(names, 0, (int)size).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            result[name] = Get(path, name);
        return result;
    }

    public static byte[] Get(string path, string name)
    {
        nint size = Libc.lgetxattr(path, name, null, 0);
        if (size < 0) throw LinuxException.FromLastError("lgetxattr", $"{name} of {path}");
        var value = new byte[size];
        fixed (byte* p = value)
        {
            size = Libc.lgetxattr(path, name, p, (nuint)value.Length);
            if (size < 0) throw LinuxException.FromLastError("lgetxattr", $"{name} of {path}");
        }
        return value[..(int)size];
    }
}
