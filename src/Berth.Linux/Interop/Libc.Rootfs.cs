using System.Runtime.InteropServices;

namespace Berth.Linux;

// Root filesystem setup: openat2 and pivot_root have no glibc wrapper on Debian 12, so they go through syscall(2).
public static unsafe partial class Libc
{
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_openat2(long number, long dirfd, string path, OpenHow* how, nuint size);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_pivot_root(long number, string newRoot, string putOld);

    /// <summary>openat2(2): returns the new fd or -1 with errno set.</summary>
    public static int openat2(int dirfd, string path, in OpenHow how)
    {
        OpenHow copy = how;
        return (int)syscall_openat2(SYS_openat2, dirfd, path, &copy, (nuint)sizeof(OpenHow));
    }

    /// <summary>pivot_root(2): returns 0 or -1 with errno set.</summary>
    public static int pivot_root(string newRoot, string putOld) => (int)syscall_pivot_root(SYS_pivot_root, newRoot, putOld);

    /// <summary>glibc's makedev encoding of a dev_t.</summary>
    public static ulong makedev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public static uint major(ulong dev) => (uint)(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff));

    public static uint minor(ulong dev) => (uint)(((dev >> 12) & 0xffffff00) | (dev & 0xff));
}
