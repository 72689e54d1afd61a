using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Runtime.Rootfs;

namespace Berth.Runtime.Init;

/// <summary>
/// `berth-runtime init`: runs as the container's first process, already inside its namespaces (the spawn
/// stage put it there). It receives its config from the runtime, sets the container up, says "ready", waits
/// for `start` on exec.fifo, and execs the user's process, which then is the container. Any failure before
/// "ready" goes back to the runtime with its cause.
/// </summary>
public static unsafe class ContainerInit
{
    public static int Run()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(InitEnvironment.SocketFd), out int socketFd) || !Sys.IsOpen(socketFd))
        {
            Console.Error.WriteLine("berth-runtime init is started by berth-runtime create/run, not by hand");
            return 2;
        }
        using var channel = new InitChannel(new Fd(socketFd));
        InitRequest? request;
        try
        {
            request = channel.ReceiveRequest();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"berth-runtime init: reading the config: {e.Message}");
            return 1;
        }
        if (request is null) return 1; // the runtime went away: nothing to set up for anyone

        Fd? ownFds;
        Oci.State? hookState;
        ContainerConfig config;
        byte** argv, envp;
        byte* path;
        try
        {
            if (request.Debug) DebugLog.RouteTo(line => channel.Send(new InitReport { Type = InitReport.Debug, Message = line }));
            // Validated and converted by `create`; only the compiled filter crosses separately.
            config = request.Config with { SeccompFilter = request.Seccomp?.ToFilter() };
            ownFds = SetUp(config, request, channel, out hookState, out path, out argv, out envp, warning =>
                channel.Send(new InitReport { Type = InitReport.Warning, Message = warning }));
        }
        catch (Exception e)
        {
            TryReport(channel, new InitReport { Type = InitReport.Error, Message = e.Message });
            return 1;
        }
        DebugLog.RouteTo(null); // nobody reads the channel after "ready"
        try
        {
            channel.Send(new InitReport { Type = InitReport.Ready });
        }
        catch (LinuxException e)
        {
            // The runtime is gone (killed during create): nobody will start us or know we exist.
            Console.Error.WriteLine($"berth-runtime init: reporting ready: {e.Message}");
            return 1;
        }

        if (ownFds is not null)
        {
            if (!WaitForStart(ownFds, request.FifoFd)) return 1;
            // Past the barrier: holding no fd of exec.fifo any more is how `state` knows (Container.InitAtBarrier).
            Libc.close(request.FifoFd);
        }
        // startContainer hooks run under the seccomp filter (installed before "ready"), as in runc 1.1, whose
        // standard_init_linux.go loads the filter before it signals the parent and runs these hooks after the fifo.
        if (config.Hooks?.StartContainer is { Count: > 0 } startHooks && hookState is not null)
        {
            // After start, in the container (paths resolve inside it), before the user's process.
            hookState.Status = ContainerStatus.Created.ToOci();
            try
            {
                HookRunner.Run("startContainer", startHooks, hookState);
            }
            catch (Exception e) when (e is ContainerException or LinuxException or IOException)
            {
                Console.Error.WriteLine($"berth-runtime init: {e.Message}");
                return 1;
            }
        }
        // Nothing but stdio and the preserved fds may reach the user's process (CVE-2024-21626).
        if (Libc.berth_cloexec_from(3 + request.PreserveFds) < 0)
        {
            Console.Error.WriteLine($"berth-runtime init: {LinuxException.FromLastError("close_range", "the runtime's fds").Message}");
            return 1;
        }
        ulong empty = 0;
        Libc.sigprocmask(2 /* SIG_SETMASK */, &empty, null);
        Libc.execve(path, argv, envp);
        int errno = Marshal.GetLastPInvokeError();
        Console.Error.WriteLine($"berth-runtime init: exec {config.Process.Args[0]}: {LinuxException.Describe(errno)}");
        return 127;
    }

    static void TryReport(InitChannel channel, InitReport report)
    {
        try
        {
            channel.Send(report);
        }
        catch (Exception)
        {
            Console.Error.WriteLine($"berth-runtime init: {report.Message}");
        }
    }

    /// <summary>
    /// The start barrier: blocks until `start` opens exec.fifo, then writes the byte that tells it we got past. A
    /// `start` killed between its open and its read leaves the write with EPIPE: that start never learned anything,
    /// so init waits for the next one instead of dying (the container stays created and a second start works).
    /// </summary>
    static bool WaitForStart(Fd ownFds, int fifoFd)
    {
        Span<byte> zero = [(byte)'0'];
        while (true)
        {
            int fd = Libc.openat(ownFds.Value, fifoFd.ToString(), Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                var e = LinuxException.FromLastError("open", "exec.fifo"); // before Console touches errno
                Console.Error.WriteLine($"berth-runtime init: {e.Message}");
                return false;
            }
            using var fifo = new Fd(fd);
            try
            {
                Sys.WriteAll(fifo, zero);
                return true;
            }
            catch (LinuxException e) when (e.Errno == Errno.EPIPE)
            {
                // Nobody reads the debug channel after "ready": wait for the next start silently.
            }
        }
    }

    /// <summary>
    /// Everything between "config received" and "ready". Returns a handle on our own fd table when there is a
    /// start barrier: taken while the host's /proc is still visible, because the container may not mount /proc
    /// at all and exec.fifo must still be reopened for writing after "ready".
    /// </summary>
    static Fd? SetUp(ContainerConfig config, InitRequest request, InitChannel channel, out Oci.State? hookState, out byte* path, out byte** argv, out byte** envp, Action<string> warn)
    {
        hookState = null;
        NativeProcessSetup setup;
        var ownFds = request.FifoFd >= 0 ? Sys.Open("/proc/self/fd", Libc.O_PATH | Libc.O_DIRECTORY) : null;

        if (request.NewSessionKeyring) JoinSessionKeyring(request.Id);

        // The spawn stage placed us in the container's cgroups before it exec'd us: a new cgroup namespace is rooted there.
        // Unshared on this thread, the one that mounts and execs (in a multi-threaded process unshare of a cgroup
        // namespace changes the calling thread only).
        if (request.NewCgroupNamespace && Libc.unshare(Libc.CLONE_NEWCGROUP) < 0)
            throw new ContainerException($"unshare(CLONE_NEWCGROUP): {LinuxException.FromLastError("unshare").Message}");
        var rootfs = new RootfsBuilder(config, new RootfsOptions(request.NoPivot, request.Cgroups, config.Has(NamespaceKind.Cgroup),
            request.BindSourceFds));
        rootfs.Prepare();
        if (request.Hooks)
        {
            // The runtime runs prestart and createRuntime hooks now, in its own namespaces; then ours run here, in
            // the container's mount namespace before pivot_root, so their paths resolve as on the host, with the
            // rootfs as their working directory (Prepare left us there), as in runc.
            channel.Send(new InitReport { Type = InitReport.Hooks });
            var answer = channel.ReceiveReport();
            if (answer?.Type != InitReport.HooksDone || answer.State is null)
                throw new ContainerException("the runtime went away while its hooks ran");
            hookState = answer.State;
            HookRunner.Run("createContainer", config.Hooks?.CreateContainer, hookState);
        }
        rootfs.EnterRoot();
        // Before the rest of the setup, as runc: the pty comes from the container's devpts, now reachable as /dev/pts.
        if (config.Process.Terminal)
            ContainerConsole.SetUp(request.ConsoleSocketFd, config.Process,
                request.ConsoleSize is [var rows, var columns] ? new Libc.WinSize { Rows = rows, Columns = columns } : null);

        if (config.Hostname is { } hostname && Libc.sethostname(hostname, Encoding.UTF8.GetByteCount(hostname)) < 0)
            throw new ContainerException($"sethostname {hostname}: {LinuxException.FromLastError("sethostname").Message}");
        if (config.Domainname is { } domain && Libc.setdomainname(domain, Encoding.UTF8.GetByteCount(domain)) < 0)
            throw new ContainerException($"setdomainname {domain}: {LinuxException.FromLastError("setdomainname").Message}");
        Sysctls.Apply(config.Sysctl);
        rootfs.Finish();

        var process = config.Process;
        OomScoreAdj.Set(process.OomScoreAdj);
        CreateCwd(process.Cwd);
        // As root and before any filter: HOME from the container's /etc/passwd (we are inside its root now), so that
        // neither the user switch nor a profile that denies newer calls (openat2) can stand in the way, as with runc.
        var env = HomeDirectory.Ensure(process.Env, process.Uid, () =>
        {
            using var root = Sys.Open("/", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
            return HomeDirectory.ReadPasswd(root);
        });
        foreach (var cap in ExecProcessSpec.UnraisableAmbient(process.Capabilities))
            warn($"can't raise ambient capability {cap} (it must also be permitted and inheritable)");

        // rlimits, umask, the filter (here without no_new_privs: the kernel takes it only from a thread with
        // CAP_SYS_ADMIN, which the switch may drop), the bounding set, groups and ids, capabilities, no_new_privs and
        // the cwd, on this thread, which execs: the same sequence in C as `exec`'s spawn stage.
        setup = new NativeProcessSetup(process, config.SeccompFilter,
            skipSetgroups: ReadSetgroups() == "deny", umask: process.Umask ?? 0x12 /* 0022 */, listenerFd: request.SeccompListenerFd);
        setup.Apply();
        // exec.fifo is opened after "ready", under the container's rlimits, where a failure reaches nobody: a
        // RLIMIT_NOFILE soft limit that leaves no fd free must fail create here (runc's init fails at its first open).
        if (ownFds is not null) RequireFreeFd(ownFds);

        // As the user, as runc's LookPath, so that a missing program or one the user may not run fails `create`.
        string executable = ExecutableLookup.Find(process.Args[0], env, process.Cwd);
        // Never freed: execve replaces the process image, and a failed execve ends the process.
        var native = new NativeStrings();
        path = native.String(executable);
        argv = native.Array(process.Args);
        envp = native.Array(env);

        // Last, so that the filter does not govern setup. Before "ready", so that a filter the kernel refuses fails
        // `create` with its cause. After it, the profile must allow what is left: sending "ready", opening and
        // writing exec.fifo, closing fds, rt_sigprocmask and execve (runc needs the same after its filter).
        setup.InstallLateFilter();

        return ownFds;
    }

    static void RequireFreeFd(Fd any)
    {
        int probe = Libc.fcntl(any.Value, Libc.F_DUPFD_CLOEXEC, 0);
        if (probe >= 0)
        {
            Libc.close(probe);
            return;
        }
        var e = LinuxException.FromLastError("fcntl(F_DUPFD_CLOEXEC)");
        // EINVAL: the soft limit is 0, below any fd number.
        if (e.Errno is not (Errno.EMFILE or Errno.EINVAL)) throw new ContainerException($"checking for a free file descriptor: {e.Message}");
        Libc.RLimit limit;
        string soft = Libc.prlimit(0, 7 /* RLIMIT_NOFILE */, null, &limit) == 0 ? limit.Cur.ToString() : "?";
        throw new ContainerException($"process.rlimits: the RLIMIT_NOFILE soft limit {soft} leaves the container's init no file descriptor to open exec.fifo with (it needs a few until it execs the process)");
    }

    /// <summary>
    /// A keyring of its own, so the container cannot read the keys of the session that started the runtime.
    /// Kernels without keyrings (ENOSYS) just go without, as with runc.
    /// </summary>
    static void JoinSessionKeyring(string id)
    {
        if (Libc.syscall(Libc.SYS_keyctl, Libc.KEYCTL_JOIN_SESSION_KEYRING, "_ses." + id) >= 0) return;
        var e = LinuxException.FromLastError("keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
        if (e.Errno != Errno.ENOSYS) throw new ContainerException($"joining a new session keyring: {e.Message}");
    }

    static void CreateCwd(string cwd)
    {
        // We are inside the container's root now, so the path cannot leave it; as root, before the user switch,
        // like runc, so that a cwd the image lacks still works.
        try
        {
            Directory.CreateDirectory(cwd);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"creating cwd {cwd}: {e.Message}");
        }
    }

    static string? ReadSetgroups()
    {
        try
        {
            return File.ReadAllText("/proc/self/setgroups").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
