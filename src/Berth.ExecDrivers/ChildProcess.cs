using Berth.Linux;

namespace Berth.ExecDrivers;

/// <summary>
/// A program started with posix_spawn: chosen fds as its stdio, default signal dispositions and an empty signal mask
/// (a .NET process ignores SIGPIPE, and an ignored signal would survive the exec), optionally in a session of its own.
/// posix_spawn (clone with CLONE_VFORK) is safe from a multi-threaded process, which fork is not.
/// </summary>
public sealed unsafe class ChildProcess : IDisposable
{
    readonly Fd _pidfd;
    int? _status;

    ChildProcess(int pid, Fd pidfd)
    {
        Pid = pid;
        _pidfd = pidfd;
    }

    public int Pid { get; }

    /// <param name="stdio">The fds the program gets as 0, 1 and 2; -1 for /dev/null.</param>
    public static ChildProcess Start(string path, IReadOnlyList<string> args, (int In, int Out, int Err) stdio, bool newSession = false)
    {
        using var native = new NativeStrings();
        using var devNull = Sys.Open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        byte* attr = stackalloc byte[Libc.PosixSpawnAttrSize];
        byte* actions = stackalloc byte[Libc.PosixSpawnFileActionsSize];
        byte* defaults = stackalloc byte[Libc.SigSetSize];
        byte* mask = stackalloc byte[Libc.SigSetSize];
        new Span<byte>(defaults, Libc.SigSetSize).Clear();
        new Span<byte>(mask, Libc.SigSetSize).Clear();
        // Signals 1-31 back to their defaults, but SIGKILL and SIGSTOP, which cannot be changed.
        for (int sig = 1; sig < 32; sig++)
            if (sig is not 9 and not 19) defaults[(sig - 1) / 8] |= (byte)(1 << ((sig - 1) % 8));
        Libc.posix_spawnattr_init(attr);
        Libc.posix_spawn_file_actions_init(actions);
        try
        {
            Libc.posix_spawnattr_setsigdefault(attr, defaults);
            Libc.posix_spawnattr_setsigmask(attr, mask);
            short flags = Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK;
            if (newSession) flags |= Libc.POSIX_SPAWN_SETSID;
            Libc.posix_spawnattr_setflags(attr, flags);
            int[] fds = [stdio.In, stdio.Out, stdio.Err];
            for (int i = 0; i < 3; i++)
            {
                // glibc clears close-on-exec when an fd is dup2'd onto itself, as POSIX now asks.
                Libc.posix_spawn_file_actions_adddup2(actions, fds[i] >= 0 ? fds[i] : devNull.Value, i);
            }
            int error = Libc.posix_spawn(out int pid, native.String(path), actions, attr, native.Array([path, .. args]), native.Array(Environ()));
            if (error != 0) throw new ExecDriverException($"starting {path}: {new LinuxException("posix_spawn", error).Message}");
            return new ChildProcess(pid, Sys.PidfdOpen(pid));
        }
        finally
        {
            Libc.posix_spawn_file_actions_destroy(actions);
            Libc.posix_spawnattr_destroy(attr);
        }
    }

    /// <summary>
    /// Starts a program that is no child of this process (spawn.c's double fork: its parent exits at once and is
    /// reaped here), in a session of its own, with stdio, signals and environment as <see cref="Start"/> gives them.
    /// Nothing is left to wait for: whoever it is reparented to reaps it. Returns its pid.
    /// </summary>
    /// <param name="stdio">The fds the program gets as 0, 1 and 2; -1 for /dev/null.</param>
    public static int StartDetached(string path, IReadOnlyList<string> args, (int In, int Out, int Err) stdio)
    {
        using var native = new NativeStrings();
        using var devNull = Sys.Open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        int Or(int fd) => fd >= 0 ? fd : devNull.Value;
        int pid = Libc.berth_spawn_detached(native.String(path), native.Array([path, .. args]), native.Array(Environ()),
            Or(stdio.In), Or(stdio.Out), Or(stdio.Err));
        if (pid < 0) throw new ExecDriverException($"starting {path}: {new LinuxException("spawn", -pid).Message}");
        return pid;
    }

    static List<string> Environ() => Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
        .Select(e => $"{e.Key}={e.Value}").ToList();

    /// <summary>Waits up to <paramref name="timeout"/> for the program to exit and reaps it; its exit code (128+signal
    /// for a signal), or null when it still runs.</summary>
    public int? Wait(TimeSpan timeout)
    {
        if (_status is { } done) return done;
        if (!Sys.WaitReadable(_pidfd, (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds))) return null;
        int r;
        int status;
        while ((r = Libc.waitpid(Pid, out status, 0)) < 0 && LinuxException.FromLastError("waitpid").Errno == Errno.EINTR) { }
        if (r != Pid) throw new ExecDriverException($"waiting for pid {Pid}: {LinuxException.FromLastError("waitpid").Message}");
        _status = Runtime.WaitStatus.ToExitCode(status);
        return _status;
    }

    /// <summary>SIGKILL and reap, for a program that overran its bound.</summary>
    public void Kill()
    {
        Libc.syscall(Libc.SYS_pidfd_send_signal, _pidfd.Value, Libc.SIGKILL, 0, 0, 0);
        Wait(TimeSpan.FromSeconds(10));
    }

    public void Dispose() => _pidfd.Dispose();
}
