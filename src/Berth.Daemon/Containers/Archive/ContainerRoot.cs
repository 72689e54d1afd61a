using System.Text;
using Berth.Daemon.Api;
using Berth.Linux;

namespace Berth.Daemon.Containers.Archive;

/// <summary>
/// A container's root filesystem held by an O_PATH fd, and every lookup in it made from that fd with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): "..", absolute symlinks and links like <c>/proc/1/root</c> all stay
/// inside it, whatever the container does to its tree meanwhile (DESIGN §3, CVE-2018-15664). Callers act on the
/// last component only through the parent fd this returns, with *at calls that do not follow it.
/// </summary>
public sealed unsafe class ContainerRoot : IDisposable
{
    const ulong InRoot = Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS;

    readonly Fd _root;

    /// <param name="hostPath">The mounted rootfs (berthd's own directory, not a path inside the container).</param>
    public ContainerRoot(string hostPath)
    {
        HostPath = hostPath;
        _root = Sys.Open(hostPath, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW);
    }

    public string HostPath { get; }

    /// <summary>
    /// Opens <paramref name="parts"/> inside the root; a symlink as the last component is followed only when asked.
    /// Null with the errno when it cannot be opened.
    /// </summary>
    public Fd? TryOpen(IReadOnlyList<string> parts, bool followLast, int flags, out int errno)
    {
        string relative = parts.Count == 0 ? "." : string.Join('/', parts);
        var how = new Libc.OpenHow
        {
            Flags = (ulong)(flags | Libc.O_CLOEXEC | (followLast ? 0 : Libc.O_NOFOLLOW)),
            Resolve = InRoot,
        };
        // RESOLVE_IN_ROOT answers EAGAIN when a rename raced the walk of a "..": the container may be renaming on purpose.
        for (int attempt = 0; ; attempt++)
        {
            int fd = Libc.openat2(_root.Value, relative, how);
            if (fd >= 0) { errno = 0; return new Fd(fd); }
            errno = System.Runtime.InteropServices.Marshal.GetLastSystemError();
            if (errno is not (Errno.EAGAIN or Errno.EINTR) || attempt >= 64) return null;
        }
    }

    /// <summary>An O_PATH fd of the directory <paramref name="parts"/>, creating what is missing (0755, as dockerd).</summary>
    /// <exception cref="ApiException">A component is not a directory (or a symlink to none).</exception>
    public Fd OpenDirectory(IReadOnlyList<string> parts, string entry)
    {
        var whole = TryOpen(parts, followLast: true, Libc.O_PATH | Libc.O_DIRECTORY, out int errno);
        if (whole is not null) return whole;
        if (errno != Errno.ENOENT) throw Failure(errno, parts, entry);
        Fd current = TryOpen([], followLast: true, Libc.O_PATH | Libc.O_DIRECTORY, out errno) ?? throw Failure(errno, [], entry);
        for (int i = 0; i < parts.Count; i++)
        {
            var prefix = parts.Take(i + 1).ToList();
            var next = TryOpen(prefix, followLast: true, Libc.O_PATH | Libc.O_DIRECTORY, out errno);
            if (next is null && errno == Errno.ENOENT)
            {
                if (Libc.mkdirat(current.Value, parts[i], 0x1ed) < 0)
                {
                    int mkdirErrno = System.Runtime.InteropServices.Marshal.GetLastSystemError();
                    if (mkdirErrno != Errno.EEXIST) { current.Dispose(); throw Failure(mkdirErrno, prefix, entry); }
                }
                next = TryOpen(prefix, followLast: true, Libc.O_PATH | Libc.O_DIRECTORY, out errno);
            }
            current.Dispose();
            if (next is null) throw Failure(errno, prefix, entry);
            current = next;
        }
        return current;
    }

    /// <summary>
    /// The in-container path of an fd opened here (what a symlink finally resolves to), from the kernel's name of it;
    /// null when the kernel names it outside the rootfs (it cannot be: the lookup stayed inside).
    /// </summary>
    public string? PathOf(Fd fd)
    {
        string host;
        try
        {
            host = File.ResolveLinkTarget($"/proc/self/fd/{fd.Value}", returnFinalTarget: false)?.FullName ?? "";
        }
        catch (IOException)
        {
            return null;
        }
        if (host == HostPath) return "/";
        return host.StartsWith(HostPath + "/", StringComparison.Ordinal) ? host[HostPath.Length..] : null;
    }

    /// <summary>readlinkat(2) of a name in a directory fd.</summary>
    public static string ReadLink(Fd dir, string name)
    {
        var buffer = new byte[4096];
        fixed (byte* p = buffer)
        {
            nint n = Libc.readlinkat(dir.Value, name, p, buffer.Length);
            if (n < 0) throw LinuxException.FromLastError("readlinkat", name);
            return Encoding.UTF8.GetString(buffer, 0, (int)n);
        }
    }

    /// <summary>lstat of a name in a directory fd; null when it does not exist.</summary>
    public static Libc.Stat? Lstat(Fd dir, string name)
    {
        if (Libc.fstatat(dir.Value, name, out var st, Libc.AT_SYMLINK_NOFOLLOW) == 0) return st;
        var e = LinuxException.FromLastError("fstatat", name);
        if (e.Errno == Errno.ENOENT) return null;
        throw e;
    }

    static ApiException Failure(int errno, IReadOnlyList<string> parts, string entry)
    {
        string where = "/" + string.Join('/', parts);
        return errno switch
        {
            Errno.ENOTDIR => ApiException.BadRequest($"cannot extract \"{entry}\": {where} is not a directory"),
            Errno.ENOENT => ApiException.BadRequest($"cannot extract \"{entry}\": {where} is a symlink to nothing"),
            Errno.ELOOP => ApiException.BadRequest($"cannot extract \"{entry}\": {where} runs into a symlink loop or a magic link"),
            _ => new ApiException(500, $"cannot extract \"{entry}\": {new LinuxException("openat2", errno, where).Message}"),
        };
    }

    public void Dispose() => _root.Dispose();
}
