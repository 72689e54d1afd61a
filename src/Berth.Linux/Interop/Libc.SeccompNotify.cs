using System.Runtime.InteropServices;

namespace Berth.Linux;

// Seccomp user notification (linux/seccomp.h): a filter installed with SECCOMP_FILTER_FLAG_NEW_LISTENER returns a
// notify fd; a supervisor reads the syscalls the filter sent it (SECCOMP_RET_USER_NOTIF) and answers each one.
public static unsafe partial class Libc
{
    public const uint SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
    public const uint SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

    // _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp), _IOW('!', 2, __u64).
    public const ulong SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100, SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101, SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;

    /// <summary>struct seccomp_data: the syscall as the filter saw it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompData
    {
        public int Nr;
        public uint Arch;
        public ulong InstructionPointer;
        public fixed ulong Args[6];
    }

    /// <summary>struct seccomp_notif (80 bytes): one pending syscall; the kernel wants it zeroed before RECV.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompNotif
    {
        public ulong Id;
        public uint Pid;
        public uint Flags;
        public SeccompData Data;
    }

    /// <summary>struct seccomp_notif_resp (24 bytes): Val is the syscall's result, Error a negative errno (or 0).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompNotifResp
    {
        public ulong Id;
        public long Val;
        public int Error;
        public uint Flags;
    }

    /// <summary>Waits for the next notification on a notify fd (blocking unless the fd is polled first).</summary>
    public static int seccomp_notif_recv(int notifyFd, SeccompNotif* notif) => ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_RECV, notif);

    /// <summary>Answers a notification: the syscall returns Val, or fails with -Error, or runs (FLAG_CONTINUE).</summary>
    public static int seccomp_notif_send(int notifyFd, SeccompNotifResp* resp) => ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}
