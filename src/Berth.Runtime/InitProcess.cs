using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Runtime.Init;

namespace Berth.Runtime;

/// <summary>
/// The container's first process, seen from the runtime (the seed's `newInitProcess`): spawns
/// `berth-runtime init` through the C spawn stage with the clone flags of the spec's namespaces, writes the
/// uid/gid maps and time offsets, places it in its cgroups, then hands it its config and waits until it is
/// ready to exec the user's process. Every failure on the way is reported with its cause.
/// </summary>
public sealed class InitProcess : IDisposable
{
    readonly InitChannel _channel;
    bool _reaped;

    InitProcess(int pid, bool isChild, InitChannel channel)
    {
        Pid = pid;
        IsChild = isChild;
        _channel = channel;
    }

    /// <summary>The pid of init in the runtime's PID namespace.</summary>
    public int Pid { get; }

    /// <summary>False when an extra fork made init a grandchild (then only a subreaper can wait for it).</summary>
    public bool IsChild { get; }

    /// <param name="placeInCgroups">Called with the child's pid before it may unshare its cgroup namespace.</param>
    /// <param name="inheritFds">Runtime fds init must inherit (exec.fifo); their numbers go into the request.</param>
    public static unsafe InitProcess Start(ContainerConfig config, int preserveFds, Action<int> placeInCgroups,
        IReadOnlyList<Fd> inheritFds)
    {
        var plan = CloneFlags.For(config.Namespaces);
        DebugLog.Write($"spawn init: clone flags 0x{plan.AtClone:x}, then unshare 0x{plan.Unshare:x}{(plan.UnshareCgroup ? " and cgroup" : "")}{string.Concat(plan.Joins.Select(j => $", join {j.ProcName} {j.Path}"))}{(plan.ForkAfter ? ", fork into the PID namespace" : "")}");
        var joinFds = new List<Fd>();
        Fd? exe = null;
        (Fd A, Fd B)? sync = null;
        (Fd Read, Fd Write)? errors = null;
        using var native = new NativeStrings();
        int pid = -1;
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

            var request = new SpawnRequest
            {
                ExecFd = exe.Value,
                CloneFlags = plan.AtClone,
                UnshareFlags = plan.Unshare,
                UnshareCgroup = plan.UnshareCgroup ? 1 : 0,
                ForkAfter = plan.ForkAfter ? 1 : 0,
                BecomeRoot = plan.NewUserNamespace ? 1 : 0,
                SyncFd = childSync,
                ErrorFd = errors.Value.Write.Value,
                KeepBelow = 3 + preserveFds,
                JoinCount = joinFds.Count,
                PassCount = pass.Count,
                NewSession = 1, // init leads its own session, as runc's; its console (process.terminal) needs it too
                StdinFd = -1,
                StdoutFd = -1,
                StderrFd = -1,
                JoinFds = joins,
                PassFds = passFds,
                Argv = argv,
                Envp = envp,
            };
            pid = Libc.berth_spawn(&request);
            if (pid < 0) throw new LinuxException($"clone (flags 0x{plan.AtClone:x})", -pid);

            // Only the child may hold its ends now: EOF on either tells us it is gone.
            sync.Value.B.Dispose();
            errors.Value.Write.Dispose();
            var channel = new InitChannel(sync.Value.A);

            Span<byte> one = stackalloc byte[1];
            if (!Sys.ReadExactly(channel.Socket, one) || one[0] != (byte)'r')
                throw SpawnFailure(errors.Value.Read, plan, "before the namespace handshake");

            if (plan.NewUserNamespace) WriteIdMaps(pid, config);
            if (plan.NewTimeNamespace) WriteTimeOffsets(pid, config);
            placeInCgroups(pid);
            one[0] = (byte)'g';
            Sys.WriteAll(channel.Socket, one);

            int initPid = pid;
            if (plan.ForkAfter)
            {
                Span<byte> record = stackalloc byte[8];
                if (!Sys.ReadExactly(channel.Socket, record))
                    throw SpawnFailure(errors.Value.Read, plan, "before the last fork");
                initPid = BitConverter.ToInt32(record[4..]);
                Libc.waitpid(pid, out _, 0); // the intermediate exits at once
            }

            // EOF on the error pipe means execve succeeded.
            if (SpawnError.Read(errors.Value.Read) is { } failed) throw DescribeStage(failed, plan);
            handedOver = true;
            return new InitProcess(initPid, !plan.ForkAfter, channel);
        }
        catch when (pid > 0)
        {
            Libc.kill(pid, Libc.SIGKILL);
            Libc.waitpid(pid, out _, 0);
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

    /// <summary>Sends init its request and waits for "ready"; init's own error message becomes the exception.</summary>
    /// <param name="runHooks">Runs prestart and createRuntime hooks when init stops for them; returns the state it gave them.</param>
    /// <param name="seccompListener">Gets the seccomp notify fd init sends when its filter has SCMP_ACT_NOTIFY rules; the fd is closed after it returns.</param>
    public void Configure(InitRequest request, Action<string> warn, Func<Oci.State> runHooks, Action<Fd>? seccompListener = null)
    {
        try
        {
            _channel.Send(request, RuntimeJsonContext.Default.InitRequest);
        }
        catch (LinuxException e) when (e.Errno == Errno.EPIPE)
        {
            // init died before reading; its exit status says more below.
        }
        var report = ReceiveReport();
        while (report?.Type is InitReport.Warning or InitReport.Hooks or InitReport.SeccompListener or InitReport.Debug)
        {
            if (report.Type == InitReport.Debug) DebugLog.Forward(report.Message);
            else if (report.Type == InitReport.Warning) warn(report.Message ?? "");
            else if (report.Type == InitReport.SeccompListener) ReceiveSeccompListener(seccompListener);
            else _channel.Send(new InitReport { Type = InitReport.HooksDone, State = runHooks() }, RuntimeJsonContext.Default.InitReport);
            report = ReceiveReport();
        }
        if (report?.Type == InitReport.Ready) return;
        if (report?.Type == InitReport.Error) throw new ContainerException(report.Message ?? "container init failed");
        throw new ContainerException($"container init exited before it was ready{ExitDescription()}");
    }

    void ReceiveSeccompListener(Action<Fd>? forward)
    {
        Span<byte> one = stackalloc byte[1];
        var received = UnixSocket.ReceiveFd(_channel.Socket, one)
            ?? throw new ContainerException($"container init exited while sending its seccomp notify fd{ExitDescription()}");
        using var notifyFd = received.Fd;
        if (forward is null) throw new ContainerException("container init sent a seccomp notify fd that nothing here can forward");
        // init goes on meanwhile: a syscall that notifies just waits until the agent has the fd and answers (runc
        // does not wait for the agent either).
        forward(notifyFd);
    }

    InitReport? ReceiveReport()
    {
        try
        {
            return _channel.Receive(RuntimeJsonContext.Default.InitReport);
        }
        catch (LinuxException e) when (e.Errno == Errno.ECONNRESET)
        {
            return null;
        }
    }

    string ExitDescription()
    {
        if (!IsChild) return "";
        int r = Libc.waitpid(Pid, out int status, 0);
        if (r != Pid) return "";
        _reaped = true;
        return WaitStatus.Describe(status);
    }

    /// <summary>Kills init (a failed create) and reaps it when it is our child.</summary>
    public void Kill()
    {
        Libc.kill(Pid, Libc.SIGKILL);
        if (IsChild && !_reaped) Libc.waitpid(Pid, out _, 0);
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

    static Exception SpawnFailure(Fd errors, CloneFlags plan, string when)
    {
        if (SpawnError.Read(errors) is { } failed) return DescribeStage(failed, plan);
        return new ContainerException($"the spawn stage exited {when} without reporting a cause");
    }

    static Exception DescribeStage(SpawnError error, CloneFlags plan)
    {
        var (stage, errno, detail) = error;
        string what = stage switch
        {
            1 => $"setns into the {plan.Joins[detail].ProcName} namespace {plan.Joins[detail].Path}",
            2 => $"unshare(0x{detail:x})",
            3 => "namespace handshake with the runtime",
            4 => detail == 1 ? "setresgid(0) in the new user namespace" : "setresuid(0) in the new user namespace",
            5 => "unshare(CLONE_NEWCGROUP)",
            6 => detail == -1 ? "marking fds close-on-exec" : $"passing fd {detail} to init",
            7 => "fork into the PID namespace",
            8 => "exec of berth-runtime init",
            23 => "setsid (a session of its own)",
            _ => $"spawn stage {stage}",
        };
        return new ContainerException($"starting container init: {what}: {LinuxException.Describe(errno)}");
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
