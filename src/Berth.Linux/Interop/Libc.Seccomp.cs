using System.Runtime.InteropServices;

namespace Berth.Linux;

// seccomp(2) has no glibc wrapper on Debian 12: it goes through syscall(2).
public static unsafe partial class Libc
{
    public const long SYS_seccomp = 317;
    public const uint SECCOMP_SET_MODE_FILTER = 1;

    /// <summary>struct sock_fprog: the filter's length in instructions and a pointer to its struct sock_filter array.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockFprog
    {
        public ushort Len;
        public void* Filter;
    }

    /// <summary>seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): installs the filter on the calling thread (all threads with TSYNC).</summary>
    public static int seccomp_set_mode_filter(uint flags, SockFprog* prog) =>
        (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, (long)prog, 0, 0);
}
