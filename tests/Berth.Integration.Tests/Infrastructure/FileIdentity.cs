using System.Runtime.InteropServices;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>(st_dev, st_ino) of a path: tells whether a process's /proc/PID/root is a given host directory.</summary>
public static unsafe partial class FileIdentity
{
    // st_dev and st_ino are the first two 64-bit fields of struct stat on x86_64 and on the generic (arm64) layout.
    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, byte* buffer);

    public static (ulong Device, ulong Inode)? Of(string path)
    {
        var buffer = stackalloc byte[512];
        if (Stat(path, buffer) != 0)
            return null;
        return (((ulong*)buffer)[0], ((ulong*)buffer)[1]);
    }
}
