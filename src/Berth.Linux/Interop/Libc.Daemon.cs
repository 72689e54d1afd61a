using System.Runtime.InteropServices;

namespace Berth.Linux;

// What berthd needs beyond the runtime's calls: rewriting its lock file in place.
public static unsafe partial class Libc
{
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pwrite(int fd, byte* buf, nuint count, long offset);
}
