using System.Runtime.InteropServices;

namespace Berth.Linux;

public static unsafe partial class Libc
{
    public const long SYS_mount_setattr = 442;
    public const int AT_RECURSIVE = 0x8000;

    [StructLayout(LayoutKind.Sequential)]
    public struct MountAttrArgs
    {
        public ulong AttrSet;
        public ulong AttrClr;
        public ulong Propagation;
        public ulong UsernsFd;
    }
}

/// <summary>mount_setattr(2): mount attributes for a whole mount tree at once, which mount(2) cannot do.</summary>
public static unsafe class MountSetattr
{
    public static void Recursive(Fd mount, ulong set, ulong clear, string subject)
    {
        var attr = new Libc.MountAttrArgs { AttrSet = set, AttrClr = clear };
        long r = Libc.syscall(Libc.SYS_mount_setattr, mount.Value, (long)(nint)EmptyPath, Libc.AT_EMPTY_PATH | Libc.AT_RECURSIVE,
            (long)(nint)(&attr), sizeof(Libc.MountAttrArgs));
        if (r < 0) throw LinuxException.FromLastError("mount_setattr (recursive attributes)", subject);
    }

    static readonly byte* EmptyPath = (byte*)NativeMemory.AllocZeroed(1);
}
