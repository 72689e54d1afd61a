using System.Text;
using Berth.Linux;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Rootfs;

/// <summary>
/// Path resolution that cannot leave a directory tree: every lookup is openat2(RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS) from an fd of the root, so ".." and absolute symlinks stop at the root (CVE-2021-30465).
/// Directories and files are created relative to a parent fd, one component at a time, never by path string.
/// </summary>
public static class InRoot
{
    const ulong InRootResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    // For one component below an fd we already trust: no symlink at all, no crossing out of it.
    const ulong BelowResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const int MaxSymlinks = 40;

    /// <summary>Opens <paramref name="path"/> (absolute or relative, read as inside the root) with openat2.</summary>
    public static Fd Open(Fd root, string path, int flags)
    {
        int errno = TryOpen(root.Value, Relative(path), flags, 0, InRootResolve, out Fd? fd);
        return fd ?? throw new LinuxException("openat2", errno, Display(path));
    }

    /// <summary>Like <see cref="Open"/> but returns null for ENOENT.</summary>
    public static Fd? OpenIfExists(Fd root, string path, int flags)
    {
        int errno = TryOpen(root.Value, Relative(path), flags, 0, InRootResolve, out Fd? fd);
        if (fd is not null || errno == Errno.ENOENT) return fd;
        throw new LinuxException("openat2", errno, Display(path));
    }

    /// <summary>
    /// Creates every missing directory of <paramref name="path"/> inside the root and returns an O_PATH fd of the
    /// final one. A component that is a symlink is followed inside the root (a dangling one has its target created).
    /// </summary>
    public static Fd MkdirAll(Fd root, string path, uint mode)
    {
        List<string> parts = Components(path);
        for (int hops = 0; hops <= MaxSymlinks; hops++)
        {
            // The longest prefix that exists, resolved from the root so that symlinks in it stay inside.
            var (current, i) = LongestExistingPrefix(root, parts);

            List<string>? redirected = null;
            for (; i < parts.Count; i++)
            {
                string name = parts[i];
                if (mkdirat(current.Value, name, mode) != 0)
                {
                    var error = LinuxException.FromLastError("mkdirat", Display(Join(parts, i + 1)));
                    if (error.Errno != Errno.EEXIST) { current.Dispose(); throw error; }
                }
                int errno = TryOpen(current.Value, name, O_PATH | O_DIRECTORY, 0, BelowResolve, out Fd? next);
                if (next is null)
                {
                    if (errno != Errno.ELOOP) { current.Dispose(); throw new LinuxException("openat2", errno, Display(Join(parts, i + 1))); }
                    // A dangling symlink: follow it by path inside the root and start over.
                    redirected = Redirect(root, current, name, parts.Skip(i + 1));
                    break;
                }
                current.Dispose();
                current = next;
            }
            if (redirected is null) return current;
            current.Dispose();
            parts = redirected;
        }
        throw new LinuxException("mkdir", Errno.ELOOP, Display(path));
    }

    /// <summary>
    /// An O_PATH fd of the longest prefix of <paramref name="parts"/> that exists, and its length. Looked for from the
    /// whole path up, one openat2 per try: mount targets mostly exist (one lookup) or lack only their last component
    /// (two), where a walk down from the root took one lookup per component plus one (six for /sys/fs/cgroup/cpu, made
    /// for each of ten hierarchies). A prefix that exists means every shorter one does, so the answer is the walk's; an
    /// error other than ENOENT falls back to the walk, which names the first prefix that fails.
    /// </summary>
    static (Fd Fd, int Count) LongestExistingPrefix(Fd root, List<string> parts)
    {
        for (int count = parts.Count; count > 0; count--)
        {
            int errno = TryOpen(root.Value, Join(parts, count), O_PATH | O_DIRECTORY, 0, InRootResolve, out Fd? found);
            if (found is not null) return (found, count);
            if (errno != Errno.ENOENT) return WalkDown(root, parts);
        }
        return (Open(root, ".", O_PATH | O_DIRECTORY), 0);
    }

    static (Fd Fd, int Count) WalkDown(Fd root, List<string> parts)
    {
        Fd current = Open(root, ".", O_PATH | O_DIRECTORY);
        int i = 0;
        for (; i < parts.Count; i++)
        {
            string prefix = Join(parts, i + 1);
            int errno = TryOpen(root.Value, prefix, O_PATH | O_DIRECTORY, 0, InRootResolve, out Fd? next);
            if (next is null)
            {
                if (errno == Errno.ENOENT) break;
                current.Dispose();
                throw new LinuxException("openat2", errno, Display(prefix));
            }
            current.Dispose();
            current = next;
        }
        return (current, i);
    }

    /// <summary>
    /// Returns an O_PATH fd of the file at <paramref name="path"/>, creating its parents and an empty file
    /// (mode <paramref name="mode"/>) when nothing is there: the target of a bind mount whose source is a file.
    /// </summary>
    public static Fd CreateFile(Fd root, string path, uint mode)
    {
        List<string> parts = Components(path);
        if (parts.Count == 0) throw new LinuxException("create file", Errno.EISDIR, "/");
        Fd? existing = OpenIfExists(root, path, O_PATH);
        if (existing is not null) return existing;

        using (Fd parent = MkdirAll(root, "/" + Join(parts, parts.Count - 1), 0755))
        {
            const int create = O_CREAT | O_RDONLY | O_NONBLOCK | O_NOCTTY;
            int errno = TryOpen(parent.Value, parts[^1], create | O_EXCL, mode, BelowResolve, out Fd? created);
            if (created is null && errno == Errno.EEXIST)
                // Raced, or a dangling symlink: open again from the root so a symlink is followed inside it.
                errno = TryOpen(root.Value, Join(parts, parts.Count), create, mode, InRootResolve, out created);
            if (created is null) throw new LinuxException("openat2 (create)", errno, Display(path));
            created.Dispose();
        }
        return Open(root, path, O_PATH);
    }

    /// <summary>Lexically cleans a path read as absolute inside the root: "/a/../../b/./c" is "/b/c".</summary>
    public static string Clean(string path) => "/" + Join(Components(path), int.MaxValue);

    /// <summary>The path an fd refers to, as the kernel names it (readlink of /proc/self/fd/N).</summary>
    public static string PathOf(Fd fd) => ReadLink(AT_FDCWD, FdPath(fd));

    /// <summary>"/proc/self/fd/N": how mount(2) is pointed at an fd instead of a path string.</summary>
    public static string FdPath(Fd fd) => $"/proc/self/fd/{fd.Value}";

    internal static unsafe string ReadLink(int dirfd, string path)
    {
        // PATH_MAX on the stack: init reads a link for every mount target it checks, and a 4 KiB array each time was
        // a fifth of the samples in init's allocation slow path (perf, 40 runs): each new page of heap is a page fault.
        const int PathMax = 4096;
        byte* buffer = stackalloc byte[PathMax];
        nint n = readlinkat(dirfd, path, buffer, PathMax);
        if (n < 0) throw LinuxException.FromLastError("readlinkat", path);
        return Encoding.UTF8.GetString(buffer, (int)n);
    }

    static List<string> Redirect(Fd root, Fd dir, string name, IEnumerable<string> rest)
    {
        string target = ReadLink(dir.Value, name);
        string rootPath = PathOf(root);
        string dirPath = PathOf(dir);
        string dirInRoot = dirPath == rootPath ? "/" : dirPath.StartsWith(rootPath + "/", StringComparison.Ordinal)
            ? dirPath[rootPath.Length..]
            : throw new LinuxException("mkdir", Errno.EXDEV, $"{dirPath} (outside {rootPath})");
        string joined = (target.StartsWith('/') ? target : dirInRoot + "/" + target) + "/" + string.Join('/', rest);
        return Components(joined);
    }

    static int TryOpen(int dirfd, string path, int flags, uint mode, ulong resolve, out Fd? fd)
    {
        var how = new OpenHow { Flags = (ulong)(flags | O_CLOEXEC), Mode = mode, Resolve = resolve };
        for (int attempt = 0; ; attempt++)
        {
            int n = openat2(dirfd, path, how);
            if (n >= 0) { fd = new Fd(n); return 0; }
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            // openat2 returns EAGAIN when a rename raced the RESOLVE_IN_ROOT walk: try again.
            if ((errno == Errno.EAGAIN || errno == Errno.EINTR) && attempt < 64) continue;
            fd = null;
            return errno;
        }
    }

    static List<string> Components(string path)
    {
        var parts = new List<string>();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        return parts;
    }

    static string Relative(string path)
    {
        string joined = Join(Components(path), int.MaxValue);
        return joined.Length == 0 ? "." : joined;
    }

    static string Join(List<string> parts, int count) => string.Join('/', parts.Take(count));

    static string Display(string path) => path.StartsWith('/') ? path : "/" + (path == "." ? "" : path);
}
