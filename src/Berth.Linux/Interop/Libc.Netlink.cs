using System.Runtime.InteropServices;

namespace Berth.Linux;

/// <summary>Netlink sockets (rtnetlink for links, addresses and routes) and the per-thread network namespace calls.</summary>
public static unsafe partial class Libc
{
    public const int AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int NETLINK_ROUTE = 0;
    public const int SO_RCVTIMEO = 20;
    /// <summary>recv flag: return the datagram's real length even when it did not fit the buffer.</summary>
    public const int MSG_TRUNC = 0x20;
    public const int CLONE_NEWNET = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint PortId;
        public uint Groups;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, SockAddrNl* address, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendto(int fd, void* buffer, nint length, int flags, SockAddrNl* address, uint addressLength);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, void* buffer, nint length, int flags);

    /// <summary>The calling thread's id: the task whose namespaces unshare and setns change.</summary>
    [LibraryImport(Lib)]
    public static partial int gettid();
}
