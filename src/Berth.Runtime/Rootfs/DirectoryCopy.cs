using Berth.Linux;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Rootfs;

/// <summary>
/// "tmpcopyup": copies what a directory of the image holds into the tmpfs mounted over it. The image may hold
/// symlinks meant to lead out: every step is relative to a directory fd, entries are opened O_NOFOLLOW and symlinks
/// are copied as symlinks, never followed. Kept: contents, type, mode, owner, access and modification times; fifos,
/// sockets and device nodes are made anew (runc 1.1.5 fails on a fifo). Not kept: hard links (each name gets its own
/// copy) and extended attributes.
/// </summary>
internal static unsafe class DirectoryCopy
{
    /// <summary>Copies the entries of <paramref name="from"/> into <paramref name="to"/>; <paramref name="path"/> names <paramref name="from"/> in errors.</summary>
    public static void Contents(Fd from, Fd to, string path)
    {
        foreach (string name in Sys.ReadDirectory(from))
            Entry(from, to, name, path.TrimEnd('/') + "/" + name);
    }

    static void Entry(Fd from, Fd to, string name, string path)
    {
        if (fstatat(from.Value, name, out Stat st, AT_SYMLINK_NOFOLLOW) != 0) throw LinuxException.FromLastError("fstatat", path);
        uint permissions = st.Mode & 0xFFF;
        switch (st.FileType)
        {
            case S_IFDIR:
                if (mkdirat(to.Value, name, 0x1C0) != 0) throw LinuxException.FromLastError("mkdirat", path);
                using (Fd subFrom = Sys.OpenAt(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
                using (Fd subTo = Sys.OpenAt(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
                {
                    Contents(subFrom, subTo, path);
                    // After the contents: a directory without write permission can still be filled.
                    SetOwnerAndMode(subTo, st, permissions, path);
                }
                break;
            case S_IFREG:
                using (Fd source = Sys.OpenAt(from, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY))
                using (Fd copy = Sys.OpenAt(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0x180))
                {
                    CopyData(source, copy, path);
                    SetOwnerAndMode(copy, st, permissions, path);
                }
                break;
            case S_IFLNK:
                if (symlinkat(InRoot.ReadLink(from.Value, name), to.Value, name) != 0) throw LinuxException.FromLastError("symlinkat", path);
                if (fchownat(to.Value, name, st.Uid, st.Gid, AT_SYMLINK_NOFOLLOW) != 0) throw LinuxException.FromLastError("lchown", path);
                break;
            default:
                // fifo, socket, device: a node of its own (a device needs the right to mknod, which a user namespace lacks)
                if (mknodat(to.Value, name, st.FileType | permissions, st.Rdev) != 0) throw LinuxException.FromLastError("mknodat", path);
                if (fchownat(to.Value, name, st.Uid, st.Gid, AT_SYMLINK_NOFOLLOW) != 0) throw LinuxException.FromLastError("lchown", path);
                if (fchmodat(to.Value, name, permissions, 0) != 0) throw LinuxException.FromLastError("chmod", path);
                break;
        }
        Timespec* times = stackalloc Timespec[2];
        times[0] = new Timespec { Sec = st.Atime, Nsec = st.AtimeNsec };
        times[1] = new Timespec { Sec = st.Mtime, Nsec = st.MtimeNsec };
        if (utimensat(to.Value, name, times, AT_SYMLINK_NOFOLLOW) != 0) throw LinuxException.FromLastError("utimensat", path);
    }

    static void CopyData(Fd source, Fd copy, string path)
    {
        for (;;)
        {
            long n = sendfile(copy.Value, source.Value, 1 << 30);
            if (n == 0) return;
            if (n < 0)
            {
                var e = LinuxException.FromLastError("sendfile", path);
                if (e.Errno != Errno.EINTR) throw e;
            }
        }
    }

    // chown first: it clears the set-user-ID and set-group-ID bits that the mode then sets.
    static void SetOwnerAndMode(Fd fd, in Stat st, uint permissions, string path)
    {
        if (fchown(fd.Value, st.Uid, st.Gid) != 0) throw LinuxException.FromLastError("chown", path);
        if (fchmod(fd.Value, permissions) != 0) throw LinuxException.FromLastError("chmod", path);
    }
}
