using System.Runtime.InteropServices;
using System.Text;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// The caller's side of <c>--console-socket</c>, written independently of the runtime: a listening AF_UNIX stream
/// socket whose first connection delivers the pty master with SCM_RIGHTS (and a name as the message), as conmon
/// and containerd's shim receive it. The master is then read and written like a terminal emulator would.
/// </summary>
public sealed unsafe partial class ConsoleListener : IDisposable
{
    private readonly int _listener;
    private int _master = -1;

    public ConsoleListener(string path)
    {
        Path = path;
        _listener = socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | 0x80000 /* SOCK_CLOEXEC */, 0);
        if (_listener < 0) throw new IOException($"socket: errno {Marshal.GetLastPInvokeError()}");
        var address = new byte[110];
        address[0] = 1; // AF_UNIX, little-endian sa_family
        var bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length > 107) throw new ArgumentException($"socket path too long: {path}");
        bytes.CopyTo(address, 2);
        fixed (byte* a = address)
        {
            if (bind(_listener, a, (uint)(2 + bytes.Length + 1)) < 0) throw new IOException($"bind {path}: errno {Marshal.GetLastPInvokeError()}");
        }
        if (listen(_listener, 1) < 0) throw new IOException($"listen {path}: errno {Marshal.GetLastPInvokeError()}");
    }

    public string Path { get; }

    /// <summary>The name sent with the master (runc: the pty's path).</summary>
    public string? Name { get; private set; }

    public int Master => _master >= 0 ? _master : throw new InvalidOperationException("no master received yet");

    /// <summary>Accepts the runtime's connection and receives the master; fails after <paramref name="timeout"/>.</summary>
    public void ReceiveMaster(TimeSpan timeout)
    {
        if (!WaitReadable(_listener, timeout)) throw new TimeoutException($"nobody connected to {Path}");
        int connection = accept4(_listener, null, null, 0x80000);
        if (connection < 0) throw new IOException($"accept: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (!WaitReadable(connection, timeout)) throw new TimeoutException("no message on the console socket");
            var data = new byte[4096];
            var control = new byte[64];
            fixed (byte* d = data)
            fixed (byte* c = control)
            {
                var iov = new IoVec { Base = d, Length = (nuint)data.Length };
                var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = c, ControlLength = (nuint)control.Length };
                nint n = recvmsg(connection, &message, 0x40000000 /* MSG_CMSG_CLOEXEC */);
                if (n < 0) throw new IOException($"recvmsg: errno {Marshal.GetLastPInvokeError()}");
                // struct cmsghdr { size_t len; int level; int type; } then the fd.
                long length = BitConverter.ToInt64(control, 0);
                int level = BitConverter.ToInt32(control, 8), type = BitConverter.ToInt32(control, 12);
                if (message.ControlLength < 20 || length < 20 || level != 1 || type != 1 /* SCM_RIGHTS */)
                    throw new IOException($"the console socket message ({n} bytes) carried no fd");
                _master = BitConverter.ToInt32(control, 16);
                Name = Encoding.UTF8.GetString(data, 0, (int)n);
            }
        }
        finally
        {
            close(connection);
        }
    }

    /// <summary>Writes to the master: what a user types.</summary>
    public void Type(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* b = bytes)
        {
            if (write(Master, b, bytes.Length) != bytes.Length) throw new IOException($"write to master: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Reads the master until <paramref name="until"/> appears, the pty hangs up (EIO: the container exited), or the
    /// timeout; returns everything read, '\r' removed.
    /// </summary>
    public string ReadUntil(string? until, TimeSpan timeout)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (until is not null && text.ToString().Contains(until)) break;
            if (!WaitReadable(Master, TimeSpan.FromMilliseconds(100))) continue;
            nint n;
            fixed (byte* b = buffer) n = read(Master, b, buffer.Length);
            if (n <= 0) break;
            text.Append(Encoding.UTF8.GetString(buffer, 0, (int)n));
        }
        return text.ToString().Replace("\r", "");
    }

    public (ushort Rows, ushort Columns) WindowSize()
    {
        var size = new ushort[4];
        fixed (ushort* s = size)
        {
            if (ioctl(Master, 0x5413 /* TIOCGWINSZ */, s) < 0) throw new IOException($"TIOCGWINSZ: errno {Marshal.GetLastPInvokeError()}");
        }
        return (size[0], size[1]);
    }

    private static bool WaitReadable(int fd, TimeSpan timeout)
    {
        var poll = new PollFd { Fd = fd, Events = 1 };
        return Poll(&poll, 1, (int)timeout.TotalMilliseconds) > 0;
    }

    public void Dispose()
    {
        if (_master >= 0) close(_master);
        close(_listener);
        File.Delete(Path);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, byte* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, byte* address, uint* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, ulong count, int timeout);
}
