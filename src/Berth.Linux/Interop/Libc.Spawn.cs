using System.Runtime.InteropServices;

namespace Berth.Linux;

/// <summary>Mirror of <c>struct berth_spawn_request</c> in native/spawn.c; keep the two in step.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SpawnRequest
{
    public int ExecFd;
    public int CloneFlags;
    public int UnshareFlags;
    public int UnshareCgroup;
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
/// Mirror of <c>struct berth_process_setup</c> in native/spawn.c; keep the two in step. The chroot into the
/// container's root, rlimits, ids, capabilities, no_new_privs, seccomp and cwd of an `exec`'d process, applied by
/// the spawn stage itself so that no berth-runtime code runs inside the container.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SpawnProcessSetup
{
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
    /// With SECCOMP_FILTER_FLAG_NEW_LISTENER: the socket the listener fd is sent on. Not the sync socket, which the
    /// PID-namespace intermediate writes its pid record to: the two writers could interleave.
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

public static unsafe partial class Libc
{
    /// <summary>Clones a child that runs the C spawn stage; returns its pid or -errno.</summary>
    [LibraryImport("libberthspawn")]
    public static partial int berth_spawn(SpawnRequest* request);
}

/// <summary>
/// What the spawn stage's child writes to its error pipe when a step fails: the stage (see spawn.c), errno, and a
/// detail (which join, which fd). EOF instead means the child reached execve.
/// </summary>
public readonly record struct SpawnError(int Stage, int Errno, int Detail)
{
    /// <summary>Reads the child's report; null when the pipe closed without one (the exec succeeded).</summary>
    public static SpawnError? Read(Fd errorPipe)
    {
        Span<int> rec = stackalloc int[3];
        return Sys.ReadExactly(errorPipe, MemoryMarshal.AsBytes(rec)) ? new SpawnError(rec[0], rec[1], rec[2]) : null;
    }
}
