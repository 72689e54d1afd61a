using System.Runtime.InteropServices;

namespace Berth.Linux;

// What berth-monitor and the exec drivers need: posix_spawn (a child with chosen stdio, in a session of its own,
// safe from a multi-threaded .NET process), and ignoring SIGHUP.
public static unsafe partial class Libc
{
    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;
    /// <summary>glibc's posix_spawnattr_t is 336 bytes and posix_spawn_file_actions_t 80 on x86-64 and arm64: room to spare.</summary>
    public const int PosixSpawnAttrSize = 512, PosixSpawnFileActionsSize = 256, SigSetSize = 128;
    public static readonly nint SIG_IGN = 1;

    [LibraryImport("libc")]
    public static partial int posix_spawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_init(void* attr);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setsigdefault(void* attr, byte* sigset);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setsigmask(void* attr, byte* sigset);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint signal(int signum, nint handler);

    public const int MADV_DONTNEED = 4;

    /// <summary>berth-monitor gives back the pages of its image that only its start-up read (best effort: no errno,
    /// whose fetch would run more code after the drop).</summary>
    [LibraryImport("libc")]
    public static partial int madvise(nint addr, nuint length, int advice);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pread(int fd, byte* buf, nint count, long offset);

    public const int M_ARENA_MAX = -8;

    /// <summary>berth-monitor keeps its few threads on one malloc arena (glibc makes one per thread by default).</summary>
    [LibraryImport("libc")]
    public static partial int mallopt(int param, int value);
}
