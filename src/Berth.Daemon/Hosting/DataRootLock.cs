using System.Globalization;
using System.Text;
using Berth.Linux;

namespace Berth.Daemon.Hosting;

/// <summary>
/// One daemon per data root: an exclusive flock on <c>DATA_ROOT/berthd.lock</c>, held for the daemon's life,
/// with the holder's pid written inside so a second daemon can name it. The kernel drops the lock when the
/// process dies, so a crash never leaves a root locked.
/// </summary>
public sealed class DataRootLock : IDisposable
{
    readonly Fd _fd;

    DataRootLock(Fd fd, string path)
    {
        _fd = fd;
        Path = path;
    }

    public string Path { get; }

    /// <exception cref="DataRootInUseException">Another process holds the lock.</exception>
    /// <exception cref="LinuxException">The lock file cannot be opened or written.</exception>
    public static unsafe DataRootLock Acquire(string dataRoot, string lockFile)
    {
        var fd = Sys.Open(lockFile, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0b110_100_100);
        try
        {
            if (Libc.flock(fd.Value, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
            {
                var error = LinuxException.FromLastError("flock", lockFile);
                if (error.Errno != Errno.EAGAIN) throw error;
                throw new DataRootInUseException(dataRoot, lockFile, ReadPid(fd));
            }
            if (Libc.ftruncate(fd.Value, 0) != 0) throw LinuxException.FromLastError("ftruncate", lockFile);
            byte[] pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            fixed (byte* p = pid)
                if (Libc.pwrite(fd.Value, p, (nuint)pid.Length, 0) != pid.Length) throw LinuxException.FromLastError("pwrite", lockFile);
            return new DataRootLock(fd, lockFile);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    static int? ReadPid(Fd fd)
    {
        Span<byte> buffer = stackalloc byte[32];
        int n = Sys.Read(fd, buffer);
        return int.TryParse(Encoding.ASCII.GetString(buffer[..n]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            ? pid : null;
    }

    /// <summary>Releases the lock; the file stays (removing it would race with a daemon starting now).</summary>
    public void Dispose() => _fd.Dispose();
}

public sealed class DataRootInUseException(string dataRoot, string lockFile, int? holderPid) : Exception(
    $"data root {dataRoot} is in use by another berthd ({(holderPid is { } p ? $"pid {p}" : "pid unknown")} holds {lockFile})")
{
    public int? HolderPid { get; } = holderPid;
}
