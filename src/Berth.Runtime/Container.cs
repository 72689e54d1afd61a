using Berth.Cgroups;
using Berth.Linux;
using Berth.Runtime.State;

namespace Berth.Runtime;

/// <summary>
/// One container and its state (the seed's `linuxContainer`). An instance holds the container's lock for as
/// long as it lives, so two commands on one id never interleave.
/// </summary>
public sealed class Container : IDisposable
{
    readonly StateStore _store;
    readonly ContainerLock _lock;

    internal Container(StateStore store, ContainerState state, ContainerLock @lock, InitProcess? init)
    {
        _store = store;
        State = state;
        _lock = @lock;
        Init = init;
    }

    public string Id => State.Id;
    public ContainerState State { get; }

    /// <summary>Set only on the instance that created the container: the live handle on its init process.</summary>
    public InitProcess? Init { get; }

    /// <summary>
    /// Set on the creating instance when the caller relays the terminal itself (a foreground run): the end of the
    /// console socket on which init sent the pty master. Disposed with the container.
    /// </summary>
    public Terminal.ConsoleSocket? ConsoleReceiver { get; init; }

    string FifoPath => Path.Combine(_store.DirFor(Id), StateStore.FifoName);

    /// <summary>The OCI status; "paused" when its processes are alive and its cgroup is frozen, as runc reports it.</summary>
    public ContainerStatus Status()
    {
        if (State.Ready == false) return ContainerStatus.Stopped;
        var status = Lifecycle.Derive(State.InitPid > 0 ? ProcStat.Read(State.InitPid) : null, State.InitStartTime, InitAtBarrier());
        return status is ContainerStatus.Running or ContainerStatus.Created && Cgroups().IsFrozen() ? ContainerStatus.Paused : status;
    }

    /// <summary>
    /// Whether init still waits for `start`: exec.fifo exists and init holds it open (it closes it once it wrote its
    /// byte). The file alone does not tell: a `start` killed after it opened the fifo, which releases init, and before
    /// it removed the file left a running container that read "created", and a second `start` then waited for a
    /// byte that never came, as long as the container ran.
    /// </summary>
    bool InitAtBarrier()
    {
        if (State.InitPid <= 0 || Libc.fstatat(Libc.AT_FDCWD, FifoPath, out var fifo, 0) < 0) return false;
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{State.InitPid}/fd"))
                if (Libc.fstatat(Libc.AT_FDCWD, fd, out var st, 0) == 0 && st.Dev == fifo.Dev && st.Ino == fifo.Ino) return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // init is gone: Derive says stopped whatever this returns.
        }
        return false;
    }

    /// <summary>Freezes every process of a running (or created) container.</summary>
    public void Pause()
    {
        var status = Status();
        if (!Lifecycle.CanPause(status))
            throw new ContainerException($"cannot pause container {Id}: it is {status.ToOci()}, not running");
        Cgroups().Freeze();
    }

    /// <summary>Thaws a paused container.</summary>
    public void Resume()
    {
        var status = Status();
        if (status != ContainerStatus.Paused)
            throw new ContainerException($"cannot resume container {Id}: it is {status.ToOci()}, not paused");
        Cgroups().Thaw();
    }

    /// <summary>Changes the container's resource limits (`update`), checked as `create` checks them before anything is written.</summary>
    public void Update(Oci.LinuxResources resources, Action<string>? warn = null)
    {
        var checkedResources = CheckedResources.ForUpdate(resources);
        var status = Status();
        if (status == ContainerStatus.Stopped)
            throw new ContainerException($"cannot update container {Id}: it is stopped");
        Cgroups().Update(checkedResources, warn);
    }

    /// <summary>
    /// Lets other commands on this container proceed while this instance goes on (a foreground exec waiting for its
    /// process). flock(LOCK_UN) frees the lock for every copy of its fd, including the one a spawn stage inherited:
    /// a stage frozen in a paused container's cgroup would otherwise hold it until the resume that it blocks.
    /// </summary>
    public void ReleaseLock() => _lock.Release();

    /// <summary>The container's cgroup statistics (for `events`).</summary>
    public Cgroups.CgroupStats Stats()
    {
        if (Status() == ContainerStatus.Stopped)
            throw new ContainerException($"container {Id} is not running");
        return Cgroups().Stats();
    }

    /// <summary>
    /// For `events`: the container's OOM notifications and a pidfd of its init (readable once init has exited),
    /// both valid after this instance (and its lock) is gone.
    /// </summary>
    public (OomNotifier Oom, Fd InitExit) WatchEvents()
    {
        if (Status() == ContainerStatus.Stopped)
            throw new ContainerException($"container {Id} is not running");
        var pidfd = Sys.PidfdOpen(State.InitPid);
        try
        {
            if (!InitAlive()) throw new ContainerException($"container {Id} is not running");
            return (OomNotifier.Open(State.CgroupPaths), pidfd);
        }
        catch
        {
            pidfd.Dispose();
            throw;
        }
    }

    /// <summary>The processes in the container's cgroups (host pids).</summary>
    public IReadOnlyList<int> Pids() => Cgroups().Pids();

    bool InitAlive() =>
        State.InitPid > 0 && Lifecycle.Derive(ProcStat.Read(State.InitPid), State.InitStartTime, fifoExists: false) != ContainerStatus.Stopped;

    public Oci.State OciState()
    {
        var status = Status();
        return new Oci.State
        {
            Id = Id,
            Status = status.ToOci(),
            Pid = status == ContainerStatus.Stopped ? 0 : State.InitPid,
            Bundle = State.Bundle,
            Rootfs = State.Rootfs,
            Created = State.Created,
            Owner = State.Owner ?? "",
            Annotations = State.Annotations,
        };
    }

    /// <summary>Releases init from its exec.fifo barrier so it execs the user's process, then runs poststart hooks.</summary>
    public void Start(Action<string> warn)
    {
        using var phase = DebugLog.Time("start");
        DebugLog.Write($"start {Id}: release init {State.InitPid} through {StateStore.FifoName}");
        var status = Status();
        if (!Lifecycle.CanStart(status))
            throw new ContainerException($"cannot start a container that is {status.ToOci()}: {Id}");
        // Non-blocking open: init may have died, and a blocking open would then wait forever.
        using var fifo = Sys.Open(FifoPath, Libc.O_RDONLY | Libc.O_NONBLOCK);
        Span<byte> buf = stackalloc byte[1];
        for (;;)
        {
            if (Sys.WaitReadable(fifo, 100))
            {
                int n = Libc.fcntl(fifo.Value, Libc.F_SETFL, 0) < 0 ? -1 : Sys.Read(fifo, buf);
                if (n == 1) break;
            }
            if (!InitAlive()) throw new ContainerException($"container {Id} init exited before it could be started");
        }
        File.Delete(FifoPath);
        HookRunner.RunAll("poststart", State.Hooks?.Poststart, ContainerFactory.HookState(State, State.InitPid, ContainerStatus.Running), warn);
    }

    public void Signal(int signal, bool all)
    {
        var status = Status();
        if (!Lifecycle.CanSignal(status) && !all)
            throw new ContainerException($"container {Id} is not running");
        if (all)
        {
            if (signal == Libc.SIGKILL && Cgroups().TryKillAll()) return;
            var pids = Cgroups().Pids();
            foreach (var pid in pids) Libc.kill(pid, signal);
            if (Lifecycle.CanSignal(status) && !pids.Contains(State.InitPid)) SignalInit(signal);
            return;
        }
        SignalInit(signal);
    }

    void SignalInit(int signal)
    {
        // A pidfd pins the process we checked: the signal cannot reach a new process that reused the pid.
        using var pidfd = Sys.PidfdOpen(State.InitPid);
        if (!InitAlive()) throw new ContainerException($"container {Id} is not running");
        if (Libc.syscall(Libc.SYS_pidfd_send_signal, pidfd.Value, signal, 0, 0, 0) < 0)
            throw new ContainerException($"sending signal {signal} to container {Id}: {LinuxException.FromLastError("pidfd_send_signal").Message}");
    }

    /// <summary>Deletes a stopped or created container (with force, kills a running one first), then runs poststop hooks.</summary>
    public void Delete(bool force, Action<string> warn)
    {
        using var phase = DebugLog.Time("delete");
        var status = Status();
        DebugLog.Write($"delete {Id} ({status.ToOci()}{(force ? ", forced" : "")}): cgroups {string.Join(", ", State.CreatedCgroups)}");
        if (!force && !Lifecycle.CanDeleteWithoutForce(status))
            throw new ContainerException($"cannot delete container {Id} that is not stopped: {status.ToOci()}");
        // A create that died before init was ready leaves a "stopped" container whose init may still be ending.
        if (Lifecycle.NeedsKillBeforeDelete(status) || State.Ready == false) KillAndWait();
        Destroy();
        HookRunner.RunAll("poststop", State.Hooks?.Poststop, ContainerFactory.HookState(State, 0, ContainerStatus.Stopped), warn);
    }

    void KillAndWait()
    {
        if (State.InitPid <= 0) return;
        Fd pidfd;
        try
        {
            pidfd = Sys.PidfdOpen(State.InitPid);
        }
        catch (LinuxException e) when (e.Errno == Errno.ESRCH)
        {
            return;
        }
        (ulong Dev, ulong Ino)? mountNamespace;
        using (pidfd)
        {
            if (!InitAlive()) return;
            // Read while init lives: every process of the container shares its mount namespace (exec joins it).
            mountNamespace = MountNamespaceOf(State.InitPid);
            Libc.syscall(Libc.SYS_pidfd_send_signal, pidfd.Value, Libc.SIGKILL, 0, 0, 0);
            // A frozen process cannot act on SIGKILL: a paused container is thawed so that it dies.
            var cgroups = Cgroups();
            if (cgroups.IsFrozen()) cgroups.Thaw();
            // Readable once the process has exited (a zombie counts); bounded so a stuck process cannot hang us.
            if (!Sys.WaitReadable(pidfd, 10_000))
                throw new ContainerException($"container {Id} init (pid {State.InitPid}) did not exit after SIGKILL");
        }
        // Processes left in the container's cgroups when init did not have a PID namespace of its own: only the
        // container's, since a cgroupsPath may name a cgroup that other processes share (Destroy kills whatever is
        // left in cgroups the container made).
        if (mountNamespace is null) return;
        foreach (var pid in Cgroups().Pids())
            if (MountNamespaceOf(pid) == mountNamespace) Libc.kill(pid, Libc.SIGKILL);
    }

    static (ulong Dev, ulong Ino)? MountNamespaceOf(int pid) =>
        Libc.fstatat(Libc.AT_FDCWD, $"/proc/{pid}/ns/mnt", out var st, 0) == 0 ? (st.Dev, st.Ino) : null;

    /// <summary>Removes the container's cgroups and state; its processes must be gone.</summary>
    public void Destroy()
    {
        Cgroups().Destroy();
        _store.Remove(Id);
    }

    CgroupManager Cgroups() => CgroupManager.Load(State.CgroupPaths, State.CreatedCgroups);

    public void Dispose()
    {
        Init?.Dispose();
        ConsoleReceiver?.Dispose();
        _lock.Dispose();
    }
}
