using System.Text;

namespace Berth.Linux;

/// <summary>AF_UNIX stream sockets as Berth uses them: connect by path, and pass one fd with SCM_RIGHTS.</summary>
public static unsafe class UnixSocket
{
    const int MaxPath = 107; // sun_path holds 108 bytes with the terminating NUL

    /// <summary>
    /// Connects a SOCK_STREAM socket to <paramref name="path"/>. A path too long for sun_path is reached through
    /// an O_PATH fd of its directory (/proc/self/fd/N/name), as podman does for its long socket paths.
    /// </summary>
    public static Fd Connect(string path)
    {
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) throw LinuxException.FromLastError("socket(AF_UNIX)");
        var socket = new Fd(fd);
        try
        {
            if (Encoding.UTF8.GetByteCount(path) <= MaxPath)
            {
                ConnectTo(socket, path, path);
                return socket;
            }
            string dir = Path.GetDirectoryName(path) ?? "/";
            using var dirFd = Sys.Open(dir, Libc.O_PATH | Libc.O_DIRECTORY);
            string shortPath = $"/proc/self/fd/{dirFd.Value}/{Path.GetFileName(path)}";
            if (Encoding.UTF8.GetByteCount(shortPath) > MaxPath) throw new LinuxException("connect", Errno.ENAMETOOLONG, path);
            ConnectTo(socket, shortPath, path);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    static void ConnectTo(Fd socket, string address, string shownAs)
    {
        var un = new Libc.SockAddrUn { Family = Libc.AF_UNIX };
        byte[] bytes = Encoding.UTF8.GetBytes(address);
        for (int i = 0; i < bytes.Length; i++) un.Path[i] = bytes[i];
        uint length = (uint)(sizeof(ushort) + bytes.Length + 1);
        for (;;)
        {
            if (Libc.connect(socket.Value, &un, length) == 0) return;
            var e = LinuxException.FromLastError("connect", shownAs);
            if (e.Errno != Errno.EINTR) throw e;
        }
    }

    // CMSG_SPACE(sizeof(int)) on LP64: a 16-byte header and the int padded to 8.
    const int ControlSpace = 24;
    const int ControlLength = 20; // CMSG_LEN(sizeof(int))

    /// <summary>Sends <paramref name="payload"/> (at least one byte) with <paramref name="fd"/> attached (SCM_RIGHTS).</summary>
    public static void SendFd(Fd socket, Fd fd, ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty) throw new ArgumentException("SCM_RIGHTS needs at least one byte of data", nameof(payload));
        byte* control = stackalloc byte[ControlSpace];
        new Span<byte>(control, ControlSpace).Clear();
        var header = (Libc.CmsgHdr*)control;
        header->Length = ControlLength;
        header->Level = Libc.SOL_SOCKET;
        header->Type = Libc.SCM_RIGHTS;
        *(int*)(control + sizeof(Libc.CmsgHdr)) = fd.Value;
        fixed (byte* data = payload)
        {
            var iov = new Libc.IoVec { Base = data, Length = (nuint)payload.Length };
            var message = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = ControlSpace };
            for (;;)
            {
                nint n = Libc.sendmsg(socket.Value, &message, Libc.MSG_NOSIGNAL);
                if (n == payload.Length) return;
                if (n >= 0) throw new IOException($"sendmsg: sent {n} of {payload.Length} bytes with the fd");
                var e = LinuxException.FromLastError("sendmsg(SCM_RIGHTS)");
                if (e.Errno != Errno.EINTR) throw e;
            }
        }
    }

    /// <summary>
    /// Receives one message and the fd attached to it (close-on-exec). Returns null at EOF; throws when a message
    /// comes without an fd. <paramref name="buffer"/> receives the payload; its length is returned with the fd.
    /// </summary>
    public static (Fd Fd, int Length)? ReceiveFd(Fd socket, Span<byte> buffer)
    {
        byte* control = stackalloc byte[ControlSpace];
        fixed (byte* data = buffer)
        {
            var iov = new Libc.IoVec { Base = data, Length = (nuint)buffer.Length };
            for (;;)
            {
                new Span<byte>(control, ControlSpace).Clear();
                var message = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = ControlSpace };
                nint n = Libc.recvmsg(socket.Value, &message, Libc.MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    var e = LinuxException.FromLastError("recvmsg(SCM_RIGHTS)");
                    if (e.Errno == Errno.EINTR) continue;
                    throw e;
                }
                var header = (Libc.CmsgHdr*)control;
                bool hasFd = message.ControlLength >= ControlLength && header->Level == Libc.SOL_SOCKET && header->Type == Libc.SCM_RIGHTS;
                if (!hasFd)
                {
                    if (n == 0) return null;
                    throw new IOException((message.Flags & Libc.MSG_CTRUNC) != 0
                        ? "recvmsg: the control message was truncated (more than one fd sent?)"
                        : $"recvmsg: a message of {n} bytes came without a file descriptor");
                }
                return (new Fd(*(int*)(control + sizeof(Libc.CmsgHdr))), (int)n);
            }
        }
    }
}
