using System.Runtime.InteropServices;

namespace Berth.Linux;

public static unsafe partial class Libc
{
    /// <summary>ioctl on an nsfs fd: returns the CLONE_NEW* type of the namespace.</summary>
    public const ulong NS_GET_NSTYPE = 0xb703;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, nint arg);

    public const int CLONE_NEWCGROUP = 0x02000000;

    /// <summary>unshare(2). In a multi-threaded process only the flags that need no single thread work (the cgroup
    /// namespace does), and they change the calling thread only.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int unshare(int flags);
}

public static unsafe partial class Libc
{
    public const int KEYCTL_JOIN_SESSION_KEYRING = 1;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial long syscall(long number, int op, string name);
    public const long SYS_keyctl = 250;
}
