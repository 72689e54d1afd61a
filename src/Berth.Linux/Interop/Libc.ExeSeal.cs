using System.Runtime.InteropServices;

namespace Berth.Linux;

// The new mount API (fsopen/fsconfig/fsmount/open_tree/move_mount) and sealed memfds: init runs from a binary the
// container cannot write (CVE-2019-5736), writes procfs through a private instance (CVE-2025-52881), and attaches bind
// sources the runtime opened for it.
// Raw syscall(2): glibc 2.36 has wrappers for some of them, not for all.
public static unsafe partial class Libc
{
    public const long SYS_open_tree = 428, SYS_move_mount = 429, SYS_fsopen = 430, SYS_fsconfig = 431, SYS_fsmount = 432, SYS_memfd_create = 319, SYS_sendfile = 40;
    public const int FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1;
    public const uint OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0x80000;
    public const int MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;
    public const int FSCONFIG_SET_STRING = 1, FSCONFIG_SET_FD = 5, FSCONFIG_CMD_CREATE = 6;
    public const int MOUNT_ATTR_RDONLY = 0x1, MOUNT_ATTR_NOSUID = 0x2, MOUNT_ATTR_NODEV = 0x4, MOUNT_ATTR_NOEXEC = 0x8;
    public const uint MFD_CLOEXEC = 0x1, MFD_ALLOW_SEALING = 0x2, MFD_EXEC = 0x10;
    public const int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8, F_SEAL_EXEC = 0x20;

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_fsopen(long number, string fsName, int flags);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_fsconfig(long number, int fd, int cmd, string? key, string? value, int aux);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_memfd_create(long number, string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_open_tree(long number, int dfd, string path, uint flags);

    /// <summary>fsopen(2): a filesystem context fd, or -1 with errno set.</summary>
    public static int fsopen(string fsName, int flags) => (int)syscall_fsopen(SYS_fsopen, fsName, flags);

    /// <summary>fsconfig(2) with a string value (or none, for the commands).</summary>
    public static int fsconfig(int fd, int cmd, string? key, string? value, int aux) =>
        (int)syscall_fsconfig(SYS_fsconfig, fd, cmd, key, value, aux);

    /// <summary>fsmount(2): a detached mount fd, or -1 with errno set.</summary>
    public static int fsmount(int fd, int flags, int attrs) => (int)syscall(SYS_fsmount, fd, flags, attrs, 0, 0);

    /// <summary>open_tree(2): with OPEN_TREE_CLONE a detached copy of the mount at <paramref name="path"/> (no submounts).</summary>
    public static int open_tree(int dfd, string path, uint flags) => (int)syscall_open_tree(SYS_open_tree, dfd, path, flags);

    /// <summary>move_mount(2) of the mount <paramref name="fromFd"/> (a detached tree from open_tree) onto <paramref name="toFd"/>.</summary>
    public static int move_mount(int fromFd, int toFd) =>
        (int)syscall_move_mount(SYS_move_mount, fromFd, "", toFd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_move_mount(long number, int fromDfd, string fromPath, int toDfd, string toPath, int flags);

    public static int memfd_create(string name, uint flags) => (int)syscall_memfd_create(SYS_memfd_create, name, flags);

    /// <summary>sendfile(2) from the current offset of <paramref name="inFd"/>.</summary>
    public static long sendfile(int outFd, int inFd, long count) => syscall(SYS_sendfile, outFd, inFd, 0, count, 0);
}
