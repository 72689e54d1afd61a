using System.Net.Sockets;

namespace Berth.Daemon.Hosting;

/// <summary>The API socket file: made ready before Kestrel binds, locked down after, removed at exit.</summary>
public static class ApiSocket
{
    /// <summary>Socket mode: the owner (root) and its group may connect, nobody else.</summary>
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>
    /// Creates the socket's directory and removes a stale socket left by a daemon that died. Called with the
    /// data-root lock held; a socket that still answers belongs to a daemon on another data root and is refused.
    /// </summary>
    /// <exception cref="InvalidOperationException">The path is taken by a live daemon or by something not a socket.</exception>
    public static void Prepare(string path, DaemonLog log)
    {
        string dir = Path.GetDirectoryName(path) ?? "/";
        if (!Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var existing = new FileInfo(path);
        if (!existing.Exists && existing.LinkTarget is null) return;
        if (existing.LinkTarget is not null || !IsSocket(path))
            throw new InvalidOperationException($"{path} exists and is not a socket: remove it or choose another -H");
        if (Answers(path))
            throw new InvalidOperationException($"{path} is in use: another daemon is listening on it");
        log.Info("removing stale socket", ("socket", path));
        File.Delete(path);
    }

    /// <summary>From lstat: .NET's FileInfo does not tell a socket from a regular file.</summary>
    static bool IsSocket(string path)
    {
        if (Berth.Linux.Libc.fstatat(Berth.Linux.Libc.AT_FDCWD, path, out var st, Berth.Linux.Libc.AT_SYMLINK_NOFOLLOW) != 0)
            throw Berth.Linux.LinuxException.FromLastError("lstat", path);
        return st.FileType == Berth.Linux.Libc.S_IFSOCK;
    }

    static bool Answers(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Removes the socket at exit; a missing file is fine (someone cleaned up before us).</summary>
    public static void Remove(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }
}
