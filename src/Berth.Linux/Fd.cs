using Microsoft.Win32.SafeHandles;

namespace Berth.Linux;

/// <summary>
/// An owned file descriptor. Every fd Berth opens is O_CLOEXEC and lives in one of these. Only -1 is invalid: 0 is a
/// real fd, which a process started with stdin closed hands out (spawn.c opens /dev/null there before main, but an
/// Fd must never leak one it was given).
/// </summary>
public sealed class Fd : SafeHandleMinusOneIsInvalid
{
    public Fd() : base(ownsHandle: true) { }

    public Fd(int fd, bool owns = true) : base(owns) => SetHandle(fd);

    public int Value => (int)DangerousGetHandle();

    /// <summary>Hands the number over to a caller that will own it from now on.</summary>
    public int Release()
    {
        int fd = Value;
        SetHandleAsInvalid();
        return fd;
    }

    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0;

    public override string ToString() => $"fd {Value}";
}
