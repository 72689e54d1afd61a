using System.Runtime.InteropServices;

namespace Berth.Linux;

/// <summary>
/// Mirror of <c>struct berth_spawn_request</c> in native/spawn.c; a unit test compares every offset with the C
/// side (<see cref="Libc.berth_spawn_layout"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SpawnRequest
{
    /// <summary>Every fd field starts as -1 ("none"), so that a request never names fd 0 by omission.</summary>
    public SpawnRequest()
    {
        ExecFd = StdinFd = StdoutFd = StderrFd = ReexecFd = CgroupDirFd = CgroupDirIndex = -1;
    }

    public int ExecFd;
    public int CloneFlags;
    public int UnshareFlags;
    public int ForkAfter;
    public int BecomeRoot;
    public int SyncFd;
    public int ErrorFd;
    public int KeepBelow;
    public int JoinCount;
    public int PassCount;
    public int StdinFd;
    public int StdoutFd;
    public int StderrFd;
    /// <summary>1: the process that execs calls setsid first (init and every `exec`, as runc); 0 for hooks.</summary>
    public int NewSession;
    public int* JoinFds;
    public int* PassFds;
    public byte** Argv;
    public byte** Envp;
    public byte* ExecPath;
    /// <summary>Null except for `exec`: what the stage applies to the process before execve.</summary>
    public SpawnProcessSetup* Setup;
    /// <summary>
    /// An fd of a sealed copy of the runtime binary, or -1: the child re-executes it before it enters the container,
    /// so that /proc/self/exe never names the host's binary there (CVE-2019-5736; see spawn.c).
    /// </summary>
    public int ReexecFd;
    /// <summary>1: the parent returns before the handshake ends (`exec -d` into a paused container, whose stage
    /// freezes as it is placed): the child must not die with it.</summary>
    public int OutlivesParent;
    public int CgroupCount;
    /// <summary>A cgroup2 directory to clone into (clone3's CLONE_INTO_CGROUP), or -1.</summary>
    public int CgroupDirFd;
    /// <summary>The entry of <see cref="CgroupFds"/> that a clone into <see cref="CgroupDirFd"/> makes needless, or -1.</summary>
    public int CgroupDirIndex;
    public int Reserved;
    /// <summary>Per cgroup, its v1 <c>tasks</c> or cgroup2 <c>cgroup.procs</c> open for writing: the child writes "0"
    /// to each before it joins or runs anything (spawn.c's place_in_cgroups).</summary>
    public int* CgroupFds;
}

/// <summary>Mirror of <c>struct berth_rlimit</c> in native/spawn.c.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SpawnRlimit
{
    public int Resource;
    public int Reserved;
    public ulong Cur;
    public ulong Max;
}

/// <summary>
/// Mirror of <c>struct berth_process_setup</c> in native/spawn.c. What the process that execs the user's program
/// applies to itself, in one sequence written once in C: rlimits, umask, seccomp, the bounding set, groups and ids,
/// capabilities, no_new_privs and the cwd. `exec`'s spawn stage runs it (after its chroot into the container's
/// root), and so does init through <see cref="Libc.berth_process_setup"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SpawnProcessSetup
{
    /// <summary>`exec` only: an O_PATH fd of the container's root, which the stage chroots into.</summary>
    public int RootFd;
    public int Uid;
    public int Gid;
    public int GidCount;
    public int SkipSetgroups;
    public int RlimitCount;
    public int HasCaps;
    public int CapLastCap;
    public int NoNewPrivs;
    public int Umask;
    public uint SeccompFlags;
    public int SeccompLength;
    /// <summary>1: StdinFd is a pty peer that becomes the controlling terminal (needs <see cref="SpawnRequest.NewSession"/>).</summary>
    public int SetControllingTerminal;
    /// <summary>
    /// With SECCOMP_FILTER_FLAG_NEW_LISTENER: the socket the listener fd is sent on, at once. Not the sync socket,
    /// which the PID-namespace intermediate writes its pid record to: the two writers could interleave.
    /// </summary>
    public int ListenerFd;
    public ulong CapBounding;
    public ulong CapEffective;
    public ulong CapInheritable;
    public ulong CapPermitted;
    public ulong CapAmbient;
    public uint* Gids;
    public SpawnRlimit* Rlimits;
    public void* SeccompFilter;
    public byte* Cwd;
}

/// <summary>
/// The steps of the spawn stage and of the shared process setup, as <c>enum berth_spawn_stage</c> in native/spawn.c
/// numbers them (a unit test compares the two).
/// </summary>
public enum SpawnStage
{
    Setns = 1,
    Unshare = 2,
    Sync = 3,
    SetId = 4,
    Fds = 6,
    Fork = 7,
    Exec = 8,
    Dumpable = 9,
    Chroot = 10,
    Rlimit = 11,
    Seccomp = 12,
    Bounding = 13,
    KeepCaps = 14,
    Setgroups = 15,
    Setgid = 16,
    Setuid = 17,
    Capset = 18,
    Ambient = 19,
    NoNewPrivs = 20,
    Cwd = 21,
    Ctty = 22,
    Session = 23,
    Reexec = 24,
    Parent = 25,
    Close = 26,
    Cgroup = 27,
}

/// <summary>
/// Mirror of <c>struct berth_spawn_error</c>: what a failed step reports, the stage, errno, and a detail (which
/// join, fd, resource, capability). The spawn stage's child writes it to its error pipe; EOF instead means the child
/// reached execve.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SpawnError
{
    public SpawnStage Stage;
    public int Error;
    public int Detail;

    /// <summary>Reads the child's report; null when the pipe closed without one (the exec succeeded).</summary>
    public static SpawnError? Read(Fd errorPipe)
    {
        SpawnError record = default;
        return Sys.ReadExactly(errorPipe, MemoryMarshal.AsBytes(new Span<SpawnError>(ref record))) ? record : null;
    }
}

public static unsafe partial class Libc
{
    /// <summary>Clones a child that runs the C spawn stage; returns its pid or -errno.</summary>
    [LibraryImport("libberthspawn")]
    public static partial int berth_spawn(SpawnRequest* request);

    /// <summary>
    /// Applies <paramref name="setup"/> to the calling thread (init's last steps; see <see cref="SpawnProcessSetup"/>):
    /// 0, or -1 with <paramref name="error"/> filled. Installs the filter here only without no_new_privs.
    /// </summary>
    [LibraryImport("libberthspawn")]
    public static partial int berth_process_setup(SpawnProcessSetup* setup, SpawnError* error);

    /// <summary>With no_new_privs and a filter: installs it (as late as the caller can); 0 or -1 with <paramref name="error"/>.</summary>
    [LibraryImport("libberthspawn")]
    public static partial int berth_install_late_filter(SpawnProcessSetup* setup, SpawnError* error);

    /// <summary>Marks every fd from <paramref name="first"/> on close-on-exec (close_range, or one by one where a
    /// seccomp filter refuses it); 0 or -1 with errno.</summary>
    [LibraryImport("libberthspawn", SetLastError = true)]
    public static partial int berth_cloexec_from(int first);

    /// <summary>
    /// Starts <paramref name="path"/> as a grandchild whose parent has exited (a double fork, both clones sharing
    /// our memory as posix_spawn's does), in a new session, with the three fds as its stdio, every signal at its
    /// default and none blocked; returns its pid, or -errno when a clone, setsid, dup2 or the execve failed.
    /// </summary>
    [LibraryImport("libberthspawn")]
    public static partial int berth_spawn_detached(byte* path, byte** argv, byte** envp, int stdin, int stdout, int stderr);

    /// <summary>Entry <paramref name="index"/> of spawn.c's layout table (sizes, offsets, stage numbers); -1 past the end.</summary>
    [LibraryImport("libberthspawn")]
    public static partial int berth_spawn_layout(int index, byte** name);
}
