using System.Runtime.InteropServices;
using System.Text;
using Berth.Cgroups;
using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Runtime.Init;

namespace Berth.Runtime;

/// <summary>
/// The container's first process, seen from the runtime (the seed's `newInitProcess`): spawns
/// `berth-runtime init` through the C spawn stage with the clone flags of the spec's namespaces (the stage places
/// itself in the container's cgroups), writes the uid/gid maps and time offsets, then hands it its config and waits
/// until it is ready to exec the user's process. Every failure on the way is reported with its cause.
/// </summary>
public sealed class InitProcess : IDisposable
{
    readonly InitChannel _channel;
    bool _reaped;

    InitProcess(int pid, InitChannel channel)
    {
        Pid = pid;
        _channel = channel;
    }

    /// <summary>The pid of init in the runtime's PID namespace.</summary>
    public int Pid { get; }

    /// <summary>
    /// How long init may take to report ready, not counting the runtime's own hooks (which have their own timeouts):
    /// a bound, so that no wait is forever. BERTH_INIT_TIMEOUT (seconds) changes it.
    /// </summary>
    public static TimeSpan ReadyTimeout =>
        int.TryParse(Environment.GetEnvironmentVariable("BERTH_INIT_TIMEOUT"), out int s) && s > 0 ? TimeSpan.FromSeconds(s) : TimeSpan.FromMinutes(5);

    /// <param name="cgroups">The container's cgroups: the child places itself there before it runs anything (see
    /// <see cref="CgroupPlacement"/>), so init starts, and starts its threads, inside them.</param>
    /// <param name="inheritFds">Runtime fds init must inherit (exec.fifo); their numbers go into the request.</param>
    /// <param name="started">Called with init's pid as soon as it is known, before init is configured (the caller
    /// records it, so that a runtime killed from here on leaves a pid `delete --force` can find).</param>
    public static unsafe InitProcess Start(ContainerConfig config, int preserveFds, CgroupPlacement cgroups,
        IReadOnlyList<Fd> inheritFds, Action<int>? started = null)
    {
        var plan = CloneFlags.For(config.Namespaces);
        DebugLog.Write($"spawn init: clone flags 0x{plan.AtClone:x}{(cgroups.Directory is not null ? $" into cgroup {Path.GetDirectoryName(cgroups.Paths[cgroups.DirectoryIndex])}" : "")}, then unshare 0x{plan.Unshare:x}{(plan.UnshareCgroup ? " and cgroup (in init)" : "")}{string.Concat(plan.Joins.Select(j => $", join {j.ProcName} {j.Path}"))}{(plan.ForkAfter ? ", fork into the PID namespace" : "")}");
        var joinFds = new List<Fd>();
        Fd? exe = null;
        (Fd A, Fd B)? sync = null;
        (Fd Read, Fd Write)? errors = null;
        using var native = new NativeStrings();
        int child = -1, initPid = -1;
        bool handedOver = false;
        try
        {
            foreach (var ns in plan.Joins) joinFds.Add(OpenNamespace(ns));
            exe = SealedBinary.OpenSelf();
            sync = Sys.SocketPair();
            errors = Sys.Pipe();

            int childSync = sync.Value.B.Value;
            var pass = new List<int> { childSync };
            pass.AddRange(inheritFds.Select(f => f.Value));

            byte** argv = native.Array(["berth-runtime", "init"]);
            byte** envp = native.Array([$"{InitEnvironment.SocketFd}={childSync}"]);
            int* joins = stackalloc int[Math.Max(1, joinFds.Count)];
            for (int i = 0; i < joinFds.Count; i++) joins[i] = joinFds[i].Value;
            int* passFds = stackalloc int[pass.Count];
            for (int i = 0; i < pass.Count; i++) passFds[i] = pass[i];
            int* cgroupFds = stackalloc int[Math.Max(1, cgroups.Files.Count)];
            for (int i = 0; i < cgroups.Files.Count; i++) cgroupFds[i] = cgroups.Files[i].Value;

            var request = new SpawnRequest
            {
                ExecFd = exe.Value,
                CloneFlags = plan.AtClone,
                UnshareFlags = plan.Unshare,
                ForkAfter = plan.ForkAfter ? 1 : 0,
                BecomeRoot = plan.BecomeRoot ? 1 : 0,
                SyncFd = childSync,
                ErrorFd = errors.Value.Write.Value,
                KeepBelow = 3 + preserveFds,
                JoinCount = joinFds.Count,
                PassCount = pass.Count,
                NewSession = 1, // init leads its own session, as runc's; its console (process.terminal) needs it too
                JoinFds = joins,
                PassFds = passFds,
                Argv = argv,
                Envp = envp,
                CgroupCount = cgroups.Files.Count,
                CgroupFds = cgroupFds,
                CgroupDirFd = cgroups.Directory?.Value ?? -1,
                CgroupDirIndex = cgroups.DirectoryIndex,
            };
            // After the extra fork of a joined PID namespace, init is the intermediate's child; as a subreaper we
            // inherit it when the intermediate exits, so that init is always ours to wait for (and its pid cannot be
            // reused before we reaped it).
            if (plan.ForkAfter) Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            child = Libc.berth_spawn(&request);
            if (child < 0) throw new LinuxException($"clone (flags 0x{plan.AtClone:x})", -child);

            // Only the child may hold its ends now: EOF on either tells us it is gone.
            sync.Value.B.Dispose();
            errors.Value.Write.Dispose();
            var channel = new InitChannel(sync.Value.A);

            Span<byte> one = stackalloc byte[1];
            if (!Sys.ReadExactly(channel.Socket, one) || one[0] != (byte)'r')
                throw StageFailure(errors.Value.Read, plan, cgroups, "before the namespace handshake");

            if (plan.NewUserNamespace) WriteIdMaps(child, config);
            if (plan.NewTimeNamespace) WriteTimeOffsets(child, config);
            one[0] = (byte)'g';
            Sys.WriteAll(channel.Socket, one);

            initPid = child;
            if (plan.ForkAfter)
            {
                Span<byte> record = stackalloc byte[8];
                if (!Sys.ReadExactly(channel.Socket, record))
                    throw StageFailure(errors.Value.Read, plan, cgroups, "before the last fork");
                initPid = BitConverter.ToInt32(record[4..]);
                Libc.waitpid(child, out _, 0); // the intermediate exits at once
                child = -1; // reaped: its pid is no longer ours to signal
            }
            started?.Invoke(initPid);

            // EOF on the error pipe means execve succeeded.
            if (SpawnError.Read(errors.Value.Read) is { } failed) throw DescribeStage(failed, plan, cgroups);
            handedOver = true;
            return new InitProcess(initPid, channel);
        }
        catch
        {
            // A stage that failed has exited (127) or is about to: make sure, and reap what is ours.
            foreach (int p in new[] { child, initPid }.Where(p => p > 0).Distinct())
            {
                Libc.kill(p, Libc.SIGKILL);
                Libc.waitpid(p, out _, 0);
            }
            throw;
        }
        finally
        {
            foreach (var f in joinFds) f.Dispose();
            exe?.Dispose();
            if (!handedOver) { sync?.A.Dispose(); sync?.B.Dispose(); }
            errors?.Read.Dispose();
            errors?.Write.Dispose();
        }
    }

    /// <summary>
    /// Sends init its request and waits for "ready"; init's own error message becomes the exception. The wait is
    /// bounded (<see cref="ReadyTimeout"/>) and watches init itself: if init dies, or only its main thread does (a
    /// seccomp filter that kills the thread that makes a call leaves the runtime's other threads, and the socket,
    /// alive), it is killed and the create fails naming why.
    /// </summary>
    /// <param name="runHooks">Runs prestart and createRuntime hooks when init stops for them; returns the state it gave them.</param>
    /// <param name="seccompListener">With SCMP_ACT_NOTIFY rules: the socket init sends its filter's listener fd on,
    /// and what to do with that fd (it is closed after the call returns).</param>
    public void Configure(InitRequest request, Action<string> warn, Func<Oci.State> runHooks,
        (Fd Socket, Action<Fd> Forward)? seccompListener = null)
    {
        try
        {
            _channel.Send(request);
        }
        catch (LinuxException e) when (e.Errno is Errno.EPIPE or Errno.ECONNRESET)
        {
            // init died before reading; the wait below says how.
        }
        var listener = seccompListener;
        var deadline = DateTime.UtcNow + ReadyTimeout;
        for (;;)
        {
            var (channelReady, listenerReady) = WaitForInit(listener?.Socket, 100);
            if (listenerReady && listener is { } l)
            {
                // init goes on meanwhile: a syscall that notifies just waits until the agent has the fd and answers
                // (runc does not wait for the agent either).
                if (UnixSocket.ReceiveFd(l.Socket, new byte[1]) is { } received)
                    using (received.Fd) l.Forward(received.Fd);
                listener = null; // one fd, or EOF: nothing more comes on it
            }
            if (channelReady)
            {
                var report = ReceiveReport();
                switch (report?.Type)
                {
                    case InitReport.Ready:
                        return;
                    case InitReport.Error:
                        Kill();
                        throw new ContainerException(report.Message ?? "container init failed");
                    case InitReport.Warning:
                        warn(report.Message ?? "");
                        break;
                    case InitReport.Debug:
                        DebugLog.Forward(report.Message);
                        break;
                    case InitReport.Hooks:
                        _channel.Send(new InitReport { Type = InitReport.HooksDone, State = runHooks() });
                        deadline = DateTime.UtcNow + ReadyTimeout; // the hooks' time is theirs, not init's
                        break;
                    case null:
                        throw new ContainerException($"container init exited before it was ready{ExitDescription()}");
                    default:
                        Kill();
                        throw new ContainerException($"container init sent an unknown report \"{report.Type}\"");
                }
                continue;
            }
            if (Gone() is { } how)
            {
                Kill();
                throw new ContainerException($"container init {how} before it was ready");
            }
            if (DateTime.UtcNow > deadline)
            {
                Kill();
                throw new ContainerException($"container init did not report ready within {ReadyTimeout.TotalSeconds:0} s (BERTH_INIT_TIMEOUT); killed it");
            }
        }
    }

    /// <summary>Polls the channel (and the listener socket) for up to <paramref name="timeoutMs"/>.</summary>
    unsafe (bool Channel, bool Listener) WaitForInit(Fd? listener, int timeoutMs)
    {
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = _channel.Socket.Value, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = listener?.Value ?? -1, Events = Libc.POLLIN };
        for (;;)
        {
            int n = Libc.poll(fds, listener is null ? 1UL : 2UL, timeoutMs);
            if (n >= 0) return (fds[0].Revents != 0, listener is not null && fds[1].Revents != 0);
            var e = LinuxException.FromLastError("poll", "the init channel");
            if (e.Errno != Errno.EINTR) throw e;
        }
    }

    /// <summary>
    /// Null while init lives; else how it went: it exited (we reap it), or its main thread is gone while other
    /// threads of the runtime keep the process (and its end of the channel) alive.
    /// </summary>
    string? Gone()
    {
        if (_reaped) return "exited";
        int r = Libc.waitpid(Pid, out int status, Libc.WNOHANG);
        if (r == Pid)
        {
            _reaped = true;
            return "exited" + WaitStatus.Describe(status).TrimEnd();
        }
        return LeaderState.Describe(Pid);
    }

    InitReport? ReceiveReport()
    {
        try
        {
            return _channel.ReceiveReport();
        }
        catch (LinuxException e) when (e.Errno == Errno.ECONNRESET)
        {
            return null;
        }
    }

    string ExitDescription()
    {
        if (_reaped) return "";
        // The channel closed: init is exiting, or only its main thread died (see Gone); either way it must go.
        if (LeaderState.Describe(Pid) is { } how)
        {
            Kill();
            return $" ({how})";
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            int r = Libc.waitpid(Pid, out int status, Libc.WNOHANG);
            if (r == Pid)
            {
                _reaped = true;
                return WaitStatus.Describe(status);
            }
            Thread.Sleep(10);
        }
        Kill();
        return " (it closed its channel and did not exit within 10 s; killed it)";
    }

    /// <summary>Kills init (a failed create) and reaps it.</summary>
    public void Kill()
    {
        if (_reaped) return;
        Libc.kill(Pid, Libc.SIGKILL);
        Libc.waitpid(Pid, out _, 0);
        _reaped = true;
    }

    public void Dispose() => _channel.Dispose();

    static Fd OpenNamespace(NamespaceConfig ns)
    {
        var fd = Sys.Open(ns.Path!, Libc.O_RDONLY);
        int type = Libc.ioctl(fd.Value, Libc.NS_GET_NSTYPE, 0);
        if (type < 0)
        {
            var e = LinuxException.FromLastError("ioctl(NS_GET_NSTYPE)", ns.Path);
            fd.Dispose();
            throw new ContainerException($"namespace path {ns.Path} for {ns.ProcName} is not a namespace file: {e.Message}");
        }
        if (type != ns.CloneFlag)
        {
            fd.Dispose();
            throw new ContainerException($"namespace path {ns.Path} is not a {ns.ProcName} namespace");
        }
        return fd;
    }

    static void WriteIdMaps(int pid, ContainerConfig config)
    {
        // An unprivileged parent may only map its own ids, and only after denying setgroups.
        if (Libc.geteuid() != 0) Sys.WriteFile($"/proc/{pid}/setgroups", "deny");
        Sys.WriteFile($"/proc/{pid}/uid_map", FormatMap(config.UidMappings));
        Sys.WriteFile($"/proc/{pid}/gid_map", FormatMap(config.GidMappings));
    }

    static string FormatMap(IReadOnlyList<IdMap> maps) =>
        string.Concat(maps.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n"));

    static void WriteTimeOffsets(int pid, ContainerConfig config)
    {
        if (config.TimeOffsets.Count == 0) return;
        var text = string.Concat(config.TimeOffsets.Select(o => $"{o.Key} {o.Value.Secs} {o.Value.Nanosecs}\n"));
        Sys.WriteFile($"/proc/{pid}/timens_offsets", text);
    }

    static Exception StageFailure(Fd errors, CloneFlags plan, CgroupPlacement cgroups, string when)
    {
        if (SpawnError.Read(errors) is { } failed) return DescribeStage(failed, plan, cgroups);
        return new ContainerException($"the spawn stage exited {when} without reporting a cause");
    }

    static Exception DescribeStage(SpawnError error, CloneFlags plan, CgroupPlacement cgroups)
    {
        var failure = Runtime.SpawnFailure.Describe("starting container init", error, plan.Joins.Select(j => $"the {j.ProcName} namespace {j.Path}").ToList(),
            cwd: null, cgroups.Paths);
        // init is exec'd after the joins: the kernel looks for its dynamic loader in the joined mount namespace.
        if (error.Stage == SpawnStage.Exec && error.Error == Errno.ENOENT && plan.Joins.FirstOrDefault(j => j.Kind == NamespaceKind.Mount) is { } mount)
            return new ContainerException($"{failure.Message}; init starts inside the joined mount namespace {mount.Path}, which must hold " +
                "the runtime's dynamic loader and libraries at the host's paths (another container's, rooted in its own rootfs, does not)");
        return failure;
    }
}

/// <summary>Environment variables by which the runtime tells `berth-runtime init` where its fds are.</summary>
public static class InitEnvironment
{
    public const string SocketFd = "_BERTH_INIT_SOCKET";
}

/// <summary>Turns a wait(2) status into words and into the exit code a shell would report.</summary>
public static class WaitStatus
{
    public static bool Exited(int status) => (status & 0x7f) == 0;
    public static int ExitCode(int status) => (status >> 8) & 0xff;
    public static int TermSignal(int status) => status & 0x7f;

    /// <summary>The exit status, or 128+signal when a signal killed the process (as runc run reports it).</summary>
    public static int ToExitCode(int status) => Exited(status) ? ExitCode(status) : 128 + TermSignal(status);

    public static string Describe(int status) =>
        Exited(status) ? $" (exit status {ExitCode(status)})" : $" (killed by signal {TermSignal(status)})";
}

/// <summary>An error in the container's lifecycle, with a message meant for the user.</summary>
public sealed class ContainerException(string message, Exception? inner = null) : Exception(message, inner);
