using System.Runtime.InteropServices;

namespace Berth.Linux;

/// <summary>A failed system call: names the call, what it acted on, and the errno with its text.</summary>
public sealed class LinuxException : Exception
{
    public LinuxException(string call, int errno, string? target = null)
        : base(Format(call, errno, target))
    {
        Call = call;
        Errno = errno;
        Target = target;
    }

    public string Call { get; }
    public int Errno { get; }
    public string? Target { get; }

    /// <summary>Throws for the errno of the last P/Invoke; read it before anything else can overwrite it.</summary>
    public static LinuxException FromLastError(string call, string? target = null) =>
        new(call, Marshal.GetLastPInvokeError(), target);

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    static string Format(string call, int errno, string? target) =>
        target is null ? $"{call}: {Describe(errno)}" : $"{call} {target}: {Describe(errno)}";
}

/// <summary>Errno values the callers branch on.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, ECHILD = 10,
        EAGAIN = 11, ENOMEM = 12, EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, EISDIR = 21,
        EINVAL = 22, EMFILE = 24, ENOSPC = 28, EROFS = 30, EPIPE = 32, ENAMETOOLONG = 36, ENOSYS = 38,
        ENOTEMPTY = 39, ELOOP = 40, EOPNOTSUPP = 95, ECONNRESET = 104;
}
