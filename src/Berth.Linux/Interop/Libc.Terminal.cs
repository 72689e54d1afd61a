using System.Runtime.InteropServices;

namespace Berth.Linux;

// Terminals and fd passing: the pty ioctls, termios through TCGETS/TCSETS (the kernel's struct, not glibc's),
// and the AF_UNIX calls that carry a pty master with SCM_RIGHTS. Values are the asm-generic ones (x86_64, arm64).
public static unsafe partial class Libc
{
    public const ulong TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TIOCSCTTY = 0x540E,
        TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431,
        TIOCGPTPEER = 0x5441;
    /// <summary>statfs f_type of devpts: a ptmx we use must live on one.</summary>
    public const long DEVPTS_SUPER_MAGIC = 0x1cd1;
    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1, MSG_CMSG_CLOEXEC = 0x40000000, MSG_NOSIGNAL = 0x4000,
        MSG_CTRUNC = 0x8;

    // termios flag bits used to build raw mode (cfmakeraw's set).
    public const uint IGNBRK = 0x1, BRKINT = 0x2, PARMRK = 0x8, ISTRIP = 0x20, INLCR = 0x40, IGNCR = 0x80,
        ICRNL = 0x100, IXON = 0x400, OPOST = 0x1, ONLCR = 0x4, ECHO = 0x8, ECHONL = 0x40, ICANON = 0x2,
        ISIG = 0x1, IEXTEN = 0x8000, CSIZE = 0x30, PARENB = 0x100, CS8 = 0x30;
    public const int VTIME = 5, VMIN = 6;

    /// <summary>struct winsize.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    /// <summary>The kernel's struct termios (TCGETS/TCSETS): 19 control characters, no speed fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct KernelTermios
    {
        public uint IFlag;
        public uint OFlag;
        public uint CFlag;
        public uint LFlag;
        public byte Line;
        public fixed byte Cc[19];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrUn
    {
        public ushort Family;
        public fixed byte Path[108];
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int isatty(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int connect(int fd, SockAddrUn* address, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* message, int flags);
}
