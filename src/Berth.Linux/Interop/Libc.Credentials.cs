using System.Runtime.InteropServices;

namespace Berth.Linux;

public static unsafe partial class Libc
{
    public const uint LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    [StructLayout(LayoutKind.Sequential)]
    public struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CapData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    // glibc's set*id wrappers apply the change to every thread of the process, which is what init needs
    // (it is a fresh process; the spawn stage's child uses raw syscalls instead).
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setgroups(nint size, uint* list);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setresuid(uint ruid, uint euid, uint suid);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setresgid(uint rgid, uint egid, uint sgid);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int capset(CapHeader* header, CapData* data);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int capget(CapHeader* header, CapData* data);
}
