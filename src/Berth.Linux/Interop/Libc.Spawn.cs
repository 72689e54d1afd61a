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
    public int Reserved;
    public int* JoinFds;
    public int* PassFds;
    public byte** Argv;
    public byte** Envp;
    public byte* ExecPath;
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
