using System.Runtime.InteropServices;
using Berth.Linux;
using Berth.Runtime.Rootfs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Terminal;

/// <summary>
/// /dev/console inside the container as the mount point of the pty peer: a regular file (or the image's character
/// device) reached without following a symlink at its last component. A symlink there is replaced by a file: the
/// bind must land on /dev/console itself, never where the image points it.
/// </summary>
public static class ConsoleTarget
{
    const ulong Below = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

    /// <summary>An O_PATH fd of dev/console under <paramref name="root"/>, created (mode 0666, empty) if missing.</summary>
    public static Fd Open(Fd root)
    {
        using Fd dev = InRoot.Open(root, "/dev", O_PATH | O_DIRECTORY);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            Fd? existing = OpenNoFollow(dev);
            if (existing is not null)
            {
                uint type = Sys.FStat(existing).FileType;
                if (type is S_IFREG or S_IFCHR) return existing;
                existing.Dispose();
                if (type == S_IFDIR) throw new ContainerException("process.terminal: /dev/console in the container is a directory, not a file to mount the console on");
                // A symlink, fifo or socket: not ours to follow or open.
                if (unlinkat(dev.Value, "console", 0) != 0 && Marshal.GetLastPInvokeError() != Errno.ENOENT)
                    throw new ContainerException($"process.terminal: removing /dev/console (a {Describe(type)}): {LinuxException.FromLastError("unlinkat").Message}");
            }
            int fd = openat(dev.Value, "console", O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_NOCTTY | O_CLOEXEC, 0x1B6);
            if (fd >= 0)
            {
                using var created = new Fd(fd);
                if (fchmod(fd, 0x1B6) != 0) throw new ContainerException($"process.terminal: chmod /dev/console: {LinuxException.FromLastError("fchmod").Message}");
                continue; // reopened as O_PATH and checked on the next round
            }
            var e = LinuxException.FromLastError("openat (create)", "/dev/console");
            if (e.Errno != Errno.EEXIST) throw new ContainerException($"process.terminal: creating the mount point for the console: {e.Message}");
        }
        throw new ContainerException("process.terminal: /dev/console keeps changing under the runtime");
    }

    static Fd? OpenNoFollow(Fd dev)
    {
        var how = new OpenHow { Flags = (ulong)(O_PATH | O_NOFOLLOW | O_CLOEXEC), Resolve = Below };
        int fd = openat2(dev.Value, "console", how);
        if (fd >= 0) return new Fd(fd);
        var e = LinuxException.FromLastError("openat2", "/dev/console");
        if (e.Errno == Errno.ENOENT) return null;
        throw new ContainerException($"process.terminal: {e.Message}");
    }

    static string Describe(uint type) => type switch
    {
        S_IFLNK => "symlink",
        S_IFIFO => "fifo",
        S_IFSOCK => "socket",
        S_IFBLK => "block device",
        _ => $"file of type 0{Convert.ToString(type, 8)}",
    };

    /// <summary>Bind-mounts the peer onto /dev/console, both named by fd: source /proc/self/fd/PEER, target /proc/self/fd/TARGET.</summary>
    public static void Bind(Fd root, Fd peer)
    {
        using Fd target = Open(root);
        if (mount(InRoot.FdPath(peer), InRoot.FdPath(target), null, MS_BIND, null) != 0)
        {
            var e = LinuxException.FromLastError("mount", $"{InRoot.FdPath(peer)} on /dev/console");
            throw new ContainerException($"process.terminal: bind-mounting the pty onto /dev/console: {e.Message}");
        }
    }
}
