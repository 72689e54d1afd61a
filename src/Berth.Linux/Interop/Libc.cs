using System.Runtime.InteropServices;

namespace Berth.Linux;

/// <summary>
/// The libc entry points Berth calls, one partial file per syscall family. Raw declarations only:
/// the typed wrappers that turn errno into <see cref="LinuxException"/> live in the classes that use them
/// (<see cref="Sys"/> and friends).
/// </summary>
public static unsafe partial class Libc
{
    internal const string Lib = "libc";

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);
}
