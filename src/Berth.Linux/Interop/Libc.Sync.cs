using System.Runtime.InteropServices;

namespace Berth.Linux;

public static unsafe partial class Libc
{
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(int fd);
}
