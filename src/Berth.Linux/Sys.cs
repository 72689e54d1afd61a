using System.Text;

namespace Berth.Linux;

/// <summary>Typed wrappers over <see cref="Libc"/>: O_CLOEXEC always, errno turned into <see cref="LinuxException"/>.</summary>
public static unsafe class Sys
{
    public static Fd Open(string path, int flags, uint mode = 0)
    {
        int fd = Libc.open(path, flags | Libc.O_CLOEXEC, mode);
        if (fd < 0) throw LinuxException.FromLastError("open", path);
        return new Fd(fd);
    }

    public static Fd OpenAt(Fd dir, string path, int flags, uint mode = 0)
    {
        int fd = Libc.openat(dir.Value, path, flags | Libc.O_CLOEXEC, mode);
        if (fd < 0) throw LinuxException.FromLastError("openat", path);
        return new Fd(fd);
    }

    /// <summary>The names in the directory <paramref name="dir"/> (opened O_RDONLY|O_DIRECTORY), without "." and "..".</summary>
    public static List<string> ReadDirectory(Fd dir)
    {
        var names = new List<string>();
        byte[] buffer = new byte[32 << 10];
        fixed (byte* p = buffer)
        {
            for (;;)
            {
                long n = Libc.syscall(Libc.SYS_getdents64, dir.Value, (long)p, buffer.Length, 0, 0);
                if (n < 0)
                {
                    var e = LinuxException.FromLastError("getdents64");
                    if (e.Errno == Errno.EINTR) continue;
                    throw e;
                }
                if (n == 0) return names;
                // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[] (NUL-terminated).
                for (long at = 0; at < n;)
                {
                    int length = *(ushort*)(p + at + 16);
                    var name = new ReadOnlySpan<byte>(p + at + 19, length - 19);
                    name = name[..name.IndexOf((byte)0)];
                    if (!(name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))) names.Add(Encoding.UTF8.GetString(name));
                    at += length;
                }
            }
        }
    }

    public static (Fd Read, Fd Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) < 0) throw LinuxException.FromLastError("pipe2");
        return (new Fd(fds[0]), new Fd(fds[1]));
    }

    public static (Fd A, Fd B) SocketPair()
    {
        int* fds = stackalloc int[2];
        if (Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, fds) < 0)
            throw LinuxException.FromLastError("socketpair");
        return (new Fd(fds[0]), new Fd(fds[1]));
    }

    /// <summary>Reads up to buffer.Length bytes; 0 means EOF. Retries EINTR.</summary>
    public static int Read(Fd fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            for (;;)
            {
                nint n = Libc.read(fd.Value, p, buffer.Length);
                if (n >= 0) return (int)n;
                var e = LinuxException.FromLastError("read");
                if (e.Errno != Errno.EINTR) throw e;
            }
        }
    }

    /// <summary>Fills the buffer; returns false on EOF before the first byte, throws on EOF in the middle.</summary>
    public static bool ReadExactly(Fd fd, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = Read(fd, buffer[done..]);
            if (n == 0)
            {
                if (done == 0) return false;
                throw new IOException($"unexpected end of stream after {done} of {buffer.Length} bytes");
            }
            done += n;
        }
        return true;
    }

    public static void WriteAll(Fd fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.write(fd.Value, p + done, data.Length - done);
                if (n < 0)
                {
                    var e = LinuxException.FromLastError("write");
                    if (e.Errno != Errno.EINTR) throw e;
                    continue;
                }
                done += (int)n;
            }
        }
    }

    /// <summary>Writes a whole small file such as /proc/PID/uid_map in one write(2), as the kernel requires.</summary>
    public static void WriteFile(string path, string content)
    {
        using var fd = Open(path, Libc.O_WRONLY);
        try
        {
            WriteAll(fd, Encoding.UTF8.GetBytes(content));
        }
        catch (LinuxException e)
        {
            throw new LinuxException("write", e.Errno, $"{path} (value {content.TrimEnd()})");
        }
    }

    public static Libc.Stat FStat(Fd fd)
    {
        if (Libc.fstatat(fd.Value, "", out var st, Libc.AT_EMPTY_PATH) < 0) throw LinuxException.FromLastError("fstat", fd.ToString());
        return st;
    }

    public static long FsType(Fd fd)
    {
        if (Libc.fstatfs(fd.Value, out var st) < 0) throw LinuxException.FromLastError("fstatfs", fd.ToString());
        return st.Type;
    }

    public static void SetCloseOnExec(int fd, bool on)
    {
        if (Libc.fcntl(fd, Libc.F_SETFD, on ? Libc.FD_CLOEXEC : 0) < 0) throw LinuxException.FromLastError("fcntl(F_SETFD)", $"fd {fd}");
    }

    public static bool IsOpen(int fd) => Libc.fcntl(fd, Libc.F_GETFD, 0) >= 0;

    public static Fd PidfdOpen(int pid)
    {
        long fd = Libc.syscall(Libc.SYS_pidfd_open, pid, 0, 0, 0, 0);
        if (fd < 0) throw LinuxException.FromLastError("pidfd_open", $"pid {pid}");
        return new Fd((int)fd);
    }

    /// <summary>Waits until the fd is readable or hung up; false on timeout.</summary>
    public static bool WaitReadable(Fd fd, int timeoutMs)
    {
        var p = new Libc.PollFd { Fd = fd.Value, Events = Libc.POLLIN };
        for (;;)
        {
            int n = Libc.poll(&p, 1, timeoutMs);
            if (n > 0) return true;
            if (n == 0) return false;
            var e = LinuxException.FromLastError("poll");
            if (e.Errno != Errno.EINTR) throw e;
        }
    }

    /// <summary>Magic numbers from statfs(2) that Berth checks before trusting a path.</summary>
    public const long PROC_SUPER_MAGIC = 0x9fa0, CGROUP_SUPER_MAGIC = 0x27e0eb, CGROUP2_SUPER_MAGIC = 0x63677270,
        TMPFS_MAGIC = 0x01021994;
}
