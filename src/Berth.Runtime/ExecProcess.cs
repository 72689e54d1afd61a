using System.Runtime.InteropServices;
using Berth.Cgroups;
using Berth.Linux;
using Berth.Oci;
using Berth.Runtime.Configs;
using Berth.Runtime.Init;
using Berth.Runtime.State;
using Berth.Runtime.Terminal;
using Berth.Seccomp;

namespace Berth.Runtime;

/// <summary>What `exec` runs and how, beyond the container itself.</summary>
public sealed record ExecOptions
{
    /// <summary>The process to run: from --process, or built by <see cref="ExecProcessSpec.FromFlags"/>.</summary>
    public required Oci.Process Process { get; init; }
    /// <summary>Where <see cref="Process"/> came from, for error messages ("--process FILE", "exec flags").</summary>
    public required string Source { get; init; }
    public int PreserveFds { get; init; }
    /// <summary>runc's --cgroup values: "path" (every controller) or "controller[,controller]:path".</summary>
    public IReadOnlyList<string> CgroupSubPaths { get; init; } = [];
    /// <summary>Allow exec into a paused (frozen) container; the process then starts frozen.</summary>
    public bool IgnorePaused { get; init; }
    /// <summary>The runtime stays attached (exec without --detach): a terminal is then relayed, not sent.</summary>
    public bool Foreground { get; init; }
    /// <summary>--console-socket: where the pty master of a process with terminal=true goes.</summary>
    public string? ConsoleSocket { get; init; }
    /// <summary>The caller writes <see cref="ExecProcess.Pid"/> somewhere (--pid-file): it must be the exec'd process's.</summary>
    public bool ReportsPid { get; init; }
}

/// <summary>
/// A process started inside a running container (`exec`). It never runs berth-runtime code in the container: the C
/// spawn stage joins the container's namespaces (from /proc/&lt;init&gt;/ns), is placed in its cgroups by us, chroots
/// into the root init sees, applies the process's rlimits, ids, capabilities, no_new_privs and the container's
/// seccomp filter with raw system calls, and execs the program at a path we resolved inside the container.
/// </summary>
public sealed class ExecProcess
{
    // User first: the other joins need the capabilities it gives. Mount last of the ones that need it; pid and
    // time only apply to children, hence the fork after them.
    static readonly (string Name, NamespaceKind Kind)[] JoinOrder =
    [
        ("user", NamespaceKind.User), ("ipc", NamespaceKind.Ipc), ("uts", NamespaceKind.Uts), ("net", NamespaceKind.Network),
        ("pid", NamespaceKind.Pid), ("cgroup", NamespaceKind.Cgroup), ("time", NamespaceKind.Time), ("mnt", NamespaceKind.Mount),
    ];

    ExecProcess(int pid, Fd? master)
    {
        Pid = pid;
        Master = master;
    }

    /// <summary>The pty master of a foreground `exec -t` (<see cref="ConsoleMode.Relay"/>), for the caller to relay
    /// and dispose; null otherwise (no terminal, or the master went to the console socket).</summary>
    public Fd? Master { get; }

    /// <summary>The process's pid in the runtime's PID namespace. With a PID namespace it is our grandchild: the
    /// caller is made a child subreaper so that it can still wait for it.</summary>
    public int Pid { get; }

    /// <summary>The container's config.json as saved at create (the bundle's when the state has none).</summary>
    public static Spec LoadContainerSpec(StateStore store, ContainerState state)
    {
        string saved = Path.Combine(store.DirFor(state.Id), StateStore.ConfigFile);
        return File.Exists(saved) ? SpecLoader.Parse(File.ReadAllText(saved), saved) : SpecLoader.Load(state.Bundle);
    }

    /// <summary>Starts the process; returns once it exec'd its program (or throws with the cause, leaving nothing).</summary>
    public static unsafe ExecProcess Start(Container container, StateStore store, ExecOptions options, Action<string> warn)
    {
        using var phase = DebugLog.Time("exec");
        var status = container.Status();
        if (status == ContainerStatus.Stopped) throw new ContainerException($"cannot exec in a stopped container: {container.Id}");
        if (status == ContainerStatus.Paused && !options.IgnorePaused)
            throw new ContainerException($"cannot exec in a paused container (use --ignore-paused to override): {container.Id}");

        var spec = LoadContainerSpec(store, container.State);
        var config = ConfigConverter.Convert(spec, container.State.Bundle);
        var process = ExecProcessSpec.Convert(options.Process, config.Process, options.Source);
        var consoleMode = ConsoleModes.Decide(process.Terminal, options.Foreground, options.ConsoleSocket);
        var consoleSize = consoleMode == ConsoleMode.None ? null : ConsoleSize.From(options.Process.ConsoleSize);
        foreach (var cap in ExecProcessSpec.UnraisableAmbient(process.Capabilities))
            warn($"can't raise ambient capability {cap} (it must also be permitted and inheritable)");
        PreservedFds.Check(options.PreserveFds);
        var cgroups = CgroupSubPaths.Resolve(container.State.CgroupPaths, options.CgroupSubPaths);

        int initPid = container.State.InitPid;
        using var pidfd = Sys.PidfdOpen(initPid);
        if (ProcStat.Read(initPid)?.StartTime is not { } start || start != container.State.InitStartTime)
            throw new ContainerException($"cannot exec in a stopped container: {container.Id}");

        var joins = new List<Fd>();
        var joinNames = new List<string>();
        Fd? root = null;
        ConsoleSocket? consoleSocket = null;
        Pty? pty = null;
        Fd? peer = null;
        (Fd A, Fd B)? sync = null;
        (Fd A, Fd B)? listenerSocket = null;
        (Fd Read, Fd Write)? errors = null;
        Fd? sealedSelf = null;
        CgroupPlacement? placement = null;
        using var native = new NativeStrings();
        int pid = -1, execPid = -1;
        try
        {
            bool forkAfter = false;
            foreach (var (name, kind) in JoinOrder)
            {
                if (OpenForeignNamespace(initPid, name) is not { } fd) continue;
                joins.Add(fd);
                joinNames.Add(name);
                if (kind is NamespaceKind.Pid or NamespaceKind.Time) forkAfter = true;
            }
            DebugLog.Write($"exec in {container.Id}: join {string.Join(", ", joinNames.Select(n => $"/proc/{initPid}/ns/{n}"))}, root /proc/{initPid}/root, user {process.Uid}:{process.Gid}, cwd {process.Cwd}, {process.Args[0]}");
            bool paused = status == ContainerStatus.Paused;
            if (paused && !options.Foreground) RefuseDetachedIntoPaused(container.Id, options, forkAfter, config.SeccompFilter is { NewListener: true });
            root = Sys.Open($"/proc/{initPid}/root", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
            bool setgroupsDenied = ReadTrimmed($"/proc/{initPid}/setgroups") == "deny";
            // The files above are init's only if init still lives (its pid cannot have been reused while it does).
            if (Sys.WaitReadable(pidfd, 0)) throw new ContainerException($"cannot exec in a stopped container: {container.Id}");

            string executable = ExecutableLookup.FindInRoot(root, process.Args[0], process.Env, process.Cwd);
            if (consoleMode != ConsoleMode.None)
            {
                // Connected first: a socket nobody listens on fails the exec before anything runs.
                if (consoleMode == ConsoleMode.Socket) consoleSocket = ConsoleSocket.Connect(options.ConsoleSocket!);
                (pty, peer) = OpenTerminal(root, initPid, process.Uid, consoleSize ?? (consoleMode == ConsoleMode.Relay ? CallersWindowSize() : null));
            }

            // The stage runs from this copy once it leaves the runtime's namespaces (CVE-2019-5736).
            sealedSelf = SealedBinary.OpenSelf();
            sync = Sys.SocketPair();
            errors = Sys.Pipe();
            bool wantsListener = config.SeccompFilter is { NewListener: true };
            if (wantsListener) listenerSocket = Sys.SocketPair();
            int childSync = sync.Value.B.Value;

            int* joinFds = stackalloc int[Math.Max(1, joins.Count)];
            for (int i = 0; i < joins.Count; i++) joinFds[i] = joins[i].Value;
            // The stage places itself in the container's cgroups (CgroupPlacement: no wait for the kernel's grace
            // period). Not into a paused container's, where it would freeze before its handshake: there we place it.
            placement = paused ? null : CgroupManager.Load(cgroups).OpenPlacement();
            int* cgroupFds = stackalloc int[Math.Max(1, placement?.Files.Count ?? 0)];
            for (int i = 0; i < (placement?.Files.Count ?? 0); i++) cgroupFds[i] = placement!.Files[i].Value;
            var cgroupFiles = placement?.Paths ?? [];
            using (var setup = new NativeProcessSetup(process, config.SeccompFilter, skipSetgroups: setgroupsDenied, umask: process.Umask,
                listenerFd: listenerSocket?.B.Value ?? -1, rootFd: root.Value, setControllingTerminal: peer is not null))
            {
                var request = new SpawnRequest
                {
                    ReexecFd = sealedSelf.Value,
                    OutlivesParent = paused && !options.Foreground ? 1 : 0,
                    ForkAfter = forkAfter ? 1 : 0,
                    SyncFd = childSync,
                    ErrorFd = errors.Value.Write.Value,
                    KeepBelow = 3 + options.PreserveFds,
                    JoinCount = joins.Count,
                    NewSession = 1, // with a terminal or not, as runc
                    StdinFd = peer?.Value ?? -1,
                    StdoutFd = peer?.Value ?? -1,
                    StderrFd = peer?.Value ?? -1,
                    JoinFds = joinFds,
                    Argv = native.Array(process.Args),
                    Envp = native.Array(HomeDirectory.Ensure(process.Env, process.Uid, () => HomeDirectory.ReadPasswd(root!))),
                    ExecPath = native.String(executable),
                    Setup = setup.Pointer,
                    CgroupCount = placement?.Files.Count ?? 0,
                    CgroupFds = cgroupFds,
                    CgroupDirFd = placement?.Directory?.Value ?? -1,
                    CgroupDirIndex = placement?.DirectoryIndex ?? -1,
                };
                // The process outlives the intermediate of the PID-namespace fork: as a subreaper we inherit it.
                Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
                pid = Libc.berth_spawn(&request);
            }
            if (pid < 0) throw new LinuxException("clone", -pid);
            sealedSelf.Dispose();
            placement?.Dispose();
            sync.Value.B.Dispose();
            listenerSocket?.B.Dispose();
            errors.Value.Write.Dispose();

            Span<byte> one = stackalloc byte[1];
            if (!Sys.ReadExactly(sync.Value.A, one) || one[0] != (byte)'r')
                throw Failure(errors.Value.Read, joinNames, process.Cwd, cgroupFiles, "before the namespace handshake");
            if (placement is null) CgroupManager.Load(cgroups).AddProcess(pid);
            if (process.OomScoreAdj is { } oom) Sys.WriteFile($"/proc/{pid}/oom_score_adj", oom.ToString());
            one[0] = (byte)'g';
            Sys.WriteAll(sync.Value.A, one);
            if (paused)
            {
                // --ignore-paused: the stage froze as it joined the frozen cgroup, before its exec (as runc's does), and
                // goes on when the container resumes. Unlock now: a foreground exec waits for its process, and the
                // resume would wait for our lock while the process waits for the resume.
                container.ReleaseLock();
                if (!options.Foreground)
                {
                    // Nothing more comes from the stage before the resume; its later reports find no reader (SIGPIPE).
                    // Without a fork after the joins, the stage is the process that execs (see RefuseDetachedIntoPaused).
                    peer?.Dispose();
                    if (consoleSocket is not null) consoleSocket.SendMaster(pty!.Master, Pty.MasterName);
                    return new ExecProcess(pid, null);
                }
            }

            execPid = pid;
            if (forkAfter)
            {
                Span<byte> record = stackalloc byte[8];
                if (!Sys.ReadExactly(sync.Value.A, record))
                    throw Failure(errors.Value.Read, joinNames, process.Cwd, cgroupFiles, "before the last fork");
                execPid = BitConverter.ToInt32(record[4..]);
                Libc.waitpid(pid, out _, 0); // the intermediate exits at once
                pid = -1;
            }
            // With SCMP_ACT_NOTIFY rules the stage sends its filter's listener fd as soon as it installed it (its next
            // steps may already wait on the agent): hand it to linux.seccomp.listenerPath, as runc does for exec.
            // No fd (EOF) means the stage failed before; the error pipe says why.
            if (wantsListener && spec.Linux?.Seccomp is { } profile)
            {
                Span<byte> marker = stackalloc byte[1];
                if (UnixSocket.ReceiveFd(listenerSocket!.Value.A, marker) is { } listener)
                {
                    using var notifyFd = listener.Fd;
                    SeccompListenerClient.Send(profile, container.OciState(), notifyFd, processPid: execPid);
                }
            }
            // EOF on the error pipe: execve succeeded.
            if (SpawnError.Read(errors.Value.Read) is { } failed) throw Describe(failed, joinNames, process.Cwd, cgroupFiles);
            // Only our copy of the peer is left to close: the master then reads EIO once the process's copies go.
            peer?.Dispose();
            if (consoleSocket is not null) consoleSocket.SendMaster(pty!.Master, Pty.MasterName);
            else if (pty is not null)
            {
                var master = pty.Master;
                pty = null; // the caller's from now on
                return new ExecProcess(execPid, master);
            }
            return new ExecProcess(execPid, null);
        }
        catch when (pid > 0 || execPid > 0)
        {
            // A stage that failed has exited (127) or is about to: make sure, and reap it so nothing is left.
            foreach (int p in new[] { pid, execPid }.Where(p => p > 0).Distinct())
            {
                Libc.kill(p, Libc.SIGKILL);
                Libc.waitpid(p, out _, 0);
            }
            throw;
        }
        finally
        {
            foreach (var f in joins) f.Dispose();
            sealedSelf?.Dispose();
            placement?.Dispose();
            root?.Dispose();
            peer?.Dispose();
            pty?.Dispose();
            consoleSocket?.Dispose();
            sync?.A.Dispose();
            sync?.B.Dispose();
            listenerSocket?.A.Dispose();
            listenerSocket?.B.Dispose();
            errors?.Read.Dispose();
            errors?.Write.Dispose();
        }
    }

    /// <summary>
    /// `exec -d --ignore-paused` into a paused container returns once its process is placed, frozen, in the
    /// container's cgroups. What it cannot do then is refused before anything runs: report the pid of a process that a
    /// fork into the container's PID (or time) namespace makes only after the resume (--pid-file), or hand a seccomp
    /// listener to its agent, which the stage sends only once it runs.
    /// </summary>
    static void RefuseDetachedIntoPaused(string id, ExecOptions options, bool forkAfter, bool wantsListener)
    {
        if (options.ReportsPid && forkAfter)
            throw new ContainerException($"cannot exec -d with --pid-file in paused container {id}: the process gets its pid in the " +
                "container's PID namespace only when the container resumes; resume it first, or run the exec in the foreground");
        if (wantsListener)
            throw new ContainerException($"cannot exec -d in paused container {id}: its seccomp profile hands a listener to " +
                "linux.seccomp.listenerPath as the process starts, which it can only do once the container resumes; resume it first");
    }

    /// <summary>
    /// A pty from the container's own devpts (opened through init's root, so /dev/ptmx resolves inside the
    /// container), sized, and its peer owned by the process's user as runc does for its stdio; the group stays
    /// devpts' (gid=). The uid is the container's, mapped to ours through init's uid_map.
    /// </summary>
    static (Pty Pty, Fd Peer) OpenTerminal(Fd root, int initPid, uint uid, Libc.WinSize? size)
    {
        var pty = Pty.OpenUnder(root);
        Fd? peer = null;
        try
        {
            if (size is { } s) pty.Resize(s);
            peer = pty.OpenPeer();
            uint hostUid = HostUid(initPid, uid);
            if (Libc.fchown(peer.Value, hostUid, uint.MaxValue) != 0)
                throw new ContainerException($"process.terminal: {LinuxException.FromLastError("fchown", $"{pty.PeerName} to uid {uid} (host uid {hostUid})").Message}");
            return (pty, peer);
        }
        catch
        {
            peer?.Dispose();
            pty.Dispose();
            throw;
        }
    }

    /// <summary>The container's <paramref name="uid"/> as our user namespace sees it (/proc/INIT/uid_map, read from here).</summary>
    static uint HostUid(int initPid, uint uid)
    {
        string map = ReadTrimmed($"/proc/{initPid}/uid_map")
            ?? throw new ContainerException($"process.terminal: cannot read /proc/{initPid}/uid_map");
        foreach (var line in map.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 3 && uint.TryParse(f[0], out uint inside) && uint.TryParse(f[1], out uint outside)
                && ulong.TryParse(f[2], out ulong count) && uid >= inside && uid - inside < count)
                return outside + (uid - inside);
        }
        throw new ContainerException($"process.terminal: uid {uid} is not mapped in the container's user namespace (/proc/{initPid}/uid_map)");
    }

    /// <summary>The caller's terminal size (stdin's, else stdout's), so that the program starts with it; null without one.</summary>
    static Libc.WinSize? CallersWindowSize()
    {
        foreach (int fd in new[] { 0, 1 })
        {
            if (!Tty.IsTerminal(fd)) continue;
            try
            {
                return Tty.GetWindowSize(fd);
            }
            catch (LinuxException)
            {
                // Not a size we can read: try the next, or start with the pty's default.
            }
        }
        return null;
    }

    /// <summary>Waits for the process (the caller must be its parent or subreaper); returns the raw wait status.</summary>
    public int Wait()
    {
        for (;;)
        {
            int r = Libc.waitpid(Pid, out int status, 0);
            if (r == Pid) return status;
            var e = LinuxException.FromLastError("waitpid", $"pid {Pid}");
            if (e.Errno != Errno.EINTR) throw e;
        }
    }

    /// <summary>An fd of init's namespace <paramref name="name"/>, or null when it is ours too (nothing to join) or the
    /// kernel has no such namespace.</summary>
    static Fd? OpenForeignNamespace(int initPid, string name)
    {
        string theirs = $"/proc/{initPid}/ns/{name}";
        if (Libc.fstatat(Libc.AT_FDCWD, $"/proc/self/ns/{name}", out var own, 0) < 0) return null;
        Fd fd;
        try
        {
            fd = Sys.Open(theirs, Libc.O_RDONLY | Libc.O_CLOEXEC);
        }
        catch (LinuxException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
        var st = Sys.FStat(fd);
        if (st.Dev == own.Dev && st.Ino == own.Ino)
        {
            fd.Dispose();
            return null;
        }
        return fd;
    }

    static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    static Exception Failure(Fd errors, IReadOnlyList<string> joinNames, string cwd, IReadOnlyList<string> cgroupFiles, string when) =>
        SpawnError.Read(errors) is { } failed
            ? Describe(failed, joinNames, cwd, cgroupFiles)
            : new ContainerException($"the spawn stage exited {when} without reporting a cause");

    /// <summary>The spawn stage's report in words (<see cref="SpawnFailure"/>).</summary>
    internal static ContainerException Describe(SpawnError error, IReadOnlyList<string> joinNames, string cwd, IReadOnlyList<string>? cgroupFiles = null) =>
        SpawnFailure.Describe("unable to start container process", error, joinNames.Select(n => $"the container's {n} namespace").ToList(), cwd, cgroupFiles);
}

/// <summary>runc's `exec --cgroup`: a sub-cgroup of the container's, per controller, that must already exist.</summary>
public static class CgroupSubPaths
{
    /// <summary>
    /// The container's cgroup paths with the sub-paths applied. "path" applies to every controller;
    /// "a,b:path" to controllers a and b (keys of <paramref name="containerPaths"/>, "unified" for the hybrid cgroup2
    /// hierarchy). Directories are not checked here; <see cref="Resolve"/> does.
    /// </summary>
    /// <exception cref="ContainerException">A malformed value, an unknown controller, or a path leaving the container's cgroup.</exception>
    public static Dictionary<string, string> Apply(IReadOnlyDictionary<string, string> containerPaths, IReadOnlyList<string> values)
    {
        var result = new Dictionary<string, string>(containerPaths, StringComparer.Ordinal);
        var given = new Dictionary<string, string>(StringComparer.Ordinal); // key → sub-path, as runc parses them
        foreach (var value in values)
        {
            string[] parts = value.Split(':');
            if (parts.Length > 2)
                throw new ContainerException($"--cgroup {value}: not [<controller>[,<controller>]:]<cgroup>");
            string sub = parts[^1];
            if (sub.Length == 0 || sub.Split('/').Contains(".."))
                throw new ContainerException($"--cgroup {value}: the sub-cgroup must be a non-empty path without \"..\"");
            // No controller, or an empty list (":path"), means every controller; runc takes that form only alone.
            bool all = parts.Length == 1 || parts[0].Length == 0;
            if (all && values.Count > 1)
                throw new ContainerException($"--cgroup {value}: a sub-cgroup without a controller must be the only --cgroup (give <controller>: prefixes)");
            foreach (var key in all ? containerPaths.Keys : parts[0].Split(','))
            {
                if (!containerPaths.ContainsKey(key))
                    throw new ContainerException($"--cgroup {value}: the container has no cgroup for controller \"{key}\" (it has: {string.Join(", ", containerPaths.Keys.Order())})");
                given[key] = sub.Trim('/');
            }
        }
        // Co-mounted controllers (cpu,cpuacct) share one directory, and a process is in one cgroup of a hierarchy: a
        // sub-cgroup given for one of them moves the hierarchy, and different ones for them are a contradiction.
        foreach (var hierarchy in containerPaths.GroupBy(p => p.Value, p => p.Key))
        {
            var subs = hierarchy.Where(given.ContainsKey).Select(k => given[k]).Distinct().ToList();
            if (subs.Count > 1)
                throw new ContainerException($"--cgroup: {string.Join(" and ", hierarchy.Order())} share one hierarchy ({hierarchy.Key}), " +
                    $"so they cannot go to different sub-cgroups ({string.Join(", ", subs)})");
            if (subs.Count == 1)
                foreach (var key in hierarchy)
                    result[key] = subs[0].Length == 0 ? hierarchy.Key : hierarchy.Key.TrimEnd('/') + "/" + subs[0];
        }
        return result;
    }

    /// <summary><see cref="Apply"/>, then checks that every sub-cgroup exists (runc requires it).</summary>
    public static Dictionary<string, string> Resolve(IReadOnlyDictionary<string, string> containerPaths, IReadOnlyList<string> values)
    {
        var result = Apply(containerPaths, values);
        foreach (var (key, dir) in result)
        {
            if (!containerPaths.TryGetValue(key, out var original) || original == dir) continue;
            if (!Directory.Exists(dir)) throw new ContainerException($"--cgroup: sub-cgroup {dir} (controller {key}) does not exist");
        }
        return result;
    }
}
