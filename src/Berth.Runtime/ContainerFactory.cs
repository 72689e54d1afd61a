using Berth.Cgroups;
using Berth.Linux;
using Berth.Oci;
using Berth.Runtime.Configs;
using Berth.Runtime.Init;
using Berth.Runtime.Rootfs;
using Berth.Runtime.State;
using Berth.Runtime.Terminal;

namespace Berth.Runtime;

/// <summary>Options of `create`/`run` that are not in config.json.</summary>
public sealed record CreateOptions
{
    public bool NoPivot { get; init; }
    public bool NoNewKeyring { get; init; }
    public int PreserveFds { get; init; }
    /// <summary>Socket-activation fds (LISTEN_FDS), preserved after PreserveFds and announced to the container.</summary>
    public int ListenFds { get; init; }
    public string? PidFile { get; init; }
    /// <summary>--console-socket: where the pty master goes when process.terminal is set.</summary>
    public string? ConsoleSocket { get; init; }
    /// <summary>The caller stays attached (run without -d): a terminal without a socket is then relayed by the caller.</summary>
    public bool Foreground { get; init; }
}

/// <summary>
/// Makes containers (the seed's `LinuxFactory.Create`): validates the bundle's config, claims the id in the
/// state root, creates the cgroups, starts <see cref="InitProcess"/> and waits until it is ready. A failure at
/// any step removes everything the create made: cgroups, state directory, the init process.
/// </summary>
public sealed class ContainerFactory(StateStore store, Action<string>? warn = null)
{
    public StateStore Store { get; } = store;

    public Container Create(string id, string bundle, CreateOptions options)
    {
        using var phase = DebugLog.Time("create");
        ContainerId.Validate(id);
        bundle = Path.GetFullPath(bundle);
        if (!Directory.Exists(bundle)) throw new ContainerException($"bundle directory {bundle} does not exist");
        var (spec, specJson) = SpecLoader.LoadWithText(bundle);
        if (options.ListenFds > 0 && spec.Process is { } announced)
            announced.Env = [.. announced.Env ?? [], $"LISTEN_FDS={options.ListenFds}", "LISTEN_PID=1"];
        var config = ConfigConverter.Convert(spec, bundle);
        if (UnsupportedFeatures.Find(spec) is { Count: > 0 } unsupported)
            throw new ContainerException($"{SpecLoader.ConfigFileName}: {string.Join("; ", unsupported)}");
        DebugLog.Write($"create {id}: bundle {bundle}, rootfs {config.Rootfs}, namespaces {string.Join(",", config.Namespaces.Select(n => n.Path is null ? n.ProcName : $"{n.ProcName}={n.Path}"))}");
        HostMountNamespace.Check(spec, config);
        Sysctls.Validate(config);
        CheckRootfs(config.Rootfs);
        int preserveFds = options.PreserveFds + options.ListenFds;
        PreservedFds.Check(preserveFds);
        var resources = config.Resources ?? throw new InvalidOperationException("the converter checks the resources of every config");
        // Paths only: nothing is made yet. The host's refusals come now, before the id is claimed.
        var cgroups = CgroupManager.ForContainer(CgroupHost.Detect(), id, config.CgroupsPath);
        cgroups.Preflight(resources);
        var consoleMode = ConsoleModes.Decide(config.Process.Terminal, options.Foreground, options.ConsoleSocket);
        // Refused before anything is made.
        var consoleSize = consoleMode == ConsoleMode.None ? null : ConsoleSize.From(spec.Process?.ConsoleSize);

        // The console socket is connected before anything is made, so that a wrong path leaves nothing behind.
        ConsoleSocket? consoleSender = null, consoleReceiver = null;
        if (consoleMode == ConsoleMode.Socket) consoleSender = ConsoleSocket.Connect(options.ConsoleSocket!);
        else if (consoleMode == ConsoleMode.Relay) (consoleReceiver, consoleSender) = ConsoleSocket.Pair();

        ContainerLock claim;
        try
        {
            claim = Store.Claim(id);
        }
        catch
        {
            consoleSender?.Dispose();
            consoleReceiver?.Dispose();
            throw;
        }
        bool cgroupsMade = false;
        InitProcess? init = null;
        (Fd A, Fd B)? listener = null;
        BindSources? bindSources = null;
        (ulong Oom, ulong Pids) limitsBefore = default;
        try
        {
            // What Create is about to make: recorded first (below), so that a create killed halfway through leaves
            // `delete --force` a list of what to remove (its init pid is still 0: stopped).
            var missing = cgroups.MissingDirectories();
            // runc 1.1 says the same (and 1.2 refuses): the container's processes will live beside these.
            if (cgroups.ProcessesAlreadyThere(missing) is { Count: > 0 } others)
                warn?.Invoke($"container's cgroup is not empty: {others.Count} process(es) found " +
                    $"(pids {string.Join(", ", others.Take(10))}{(others.Count > 10 ? ", ..." : "")} in {string.Join(", ", cgroups.Directories.Where(Directory.Exists))})");
            var state = new ContainerState
            {
                Id = id,
                Bundle = bundle,
                Rootfs = config.Rootfs,
                Created = DateTimeOffset.UtcNow,
                Owner = "",
                CgroupPaths = new Dictionary<string, string>(cgroups.Paths),
                CreatedCgroups = [.. missing],
                Annotations = spec.Annotations,
                Hooks = spec.Hooks,
            };
            Store.Write(state);
            // Refuses a frozen cgroup before it makes anything, and then leaves it as it was.
            using (DebugLog.Time("cgroups")) cgroups.Create();
            cgroupsMade = true;
            // A cgroupsPath may name a cgroup that exists already, with counts of its own.
            limitsBefore = (LimitEvents.OomKills(cgroups.Paths), LimitEvents.PidsLimitHits(cgroups.Paths));
            DebugLog.Write($"cgroups: {string.Join(", ", cgroups.Paths.Select(p => $"{p.Key}={p.Value}"))} (created {cgroups.CreatedDirectories.Count} directories)");
            // The record of what is about to be made holds, unless a directory appeared meanwhile (another container
            // made a shared parent): only then is it written again, so that a delete never removes what we did not
            // make. One state write fewer in the usual case, and one new file fewer in the state root, whose
            // allocation was the costly part on a churned ext4 without a journal.
            if (!cgroups.CreatedDirectories.SequenceEqual(state.CreatedCgroups, StringComparer.Ordinal))
            {
                state.CreatedCgroups = [.. cgroups.CreatedDirectories];
                Store.Write(state);
            }
            // Saved for exec: the bundle's own text, which reads back to the same spec (unknown fields are ignored),
            // spares serialising it (and building System.Text.Json's metadata for the spec's types) on every create.
            // Serialised only when create changed the spec: --listen-fds adds to its environment.
            StateStore.WriteNewFile(Path.Combine(Store.DirFor(id), StateStore.ConfigFile), options.ListenFds > 0
                ? System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonContext.Default.Spec)
                : System.Text.Encoding.UTF8.GetBytes(specJson));
            cgroups.Apply(resources, warn);

            string dir = Store.DirFor(id);
            string fifoPath = Path.Combine(dir, StateStore.FifoName);
            // init opens it for writing after it switched to the container's user: writable by others (as runc
            // does), and owned by the container's root when that is another host uid.
            if (Libc.mkfifoat(Libc.AT_FDCWD, fifoPath, 0x192 /* 0622 */) < 0) throw LinuxException.FromLastError("mkfifo", fifoPath);
            if (Libc.fchmodat(Libc.AT_FDCWD, fifoPath, 0x192, 0) < 0) throw LinuxException.FromLastError("chmod", fifoPath); // past the umask
            var (rootUid, rootGid) = (HostIdOfRoot(config.UidMappings), HostIdOfRoot(config.GidMappings));
            if ((rootUid != 0 || rootGid != 0) && Libc.fchownat(Libc.AT_FDCWD, fifoPath, rootUid, rootGid, 0) < 0)
                throw LinuxException.FromLastError("chown", fifoPath);
            using var fifo = Sys.Open(fifoPath, Libc.O_PATH);
            // With SCMP_ACT_NOTIFY rules init sends its filter's listener fd on a socket of its own.
            listener = config.SeccompFilter is { NewListener: true } ? Sys.SocketPair() : null;
            // Opened as the host's root, before the container's namespaces exist (a user namespace's root may not reach them).
            bindSources = BindSources.Open(config);
            List<Fd> inherited = [fifo, .. bindSources.Fds];
            if (consoleSender is not null) inherited.Add(consoleSender.Socket);
            if (listener is { } pair) inherited.Add(pair.B);

            using (var placement = cgroups.OpenPlacement())
            using (DebugLog.Time("spawn"))
                init = InitProcess.Start(config, preserveFds, placement, inherited, started: pid =>
                {
                    // Recorded before init is configured: a create killed from here on leaves `delete --force` a pid to kill.
                    state.InitPid = pid;
                    state.InitStartTime = ProcStat.Read(pid)?.StartTime ?? 0;
                    state.Ready = false;
                    Store.Write(state);
                });
            listener?.B.Dispose();
            var setup = DebugLog.Time("init"); // until "ready"
            init.Configure(new InitRequest
            {
                Config = config,
                ConsoleSize = consoleSize is { } size ? [size.Rows, size.Columns] : null,
                Bundle = bundle,
                NoPivot = options.NoPivot,
                NewSessionKeyring = !options.NoNewKeyring,
                Id = id,
                FifoFd = fifo.Value,
                PreserveFds = preserveFds,
                ConsoleSocketFd = consoleSender?.Socket.Value ?? -1,
                Cgroups = CgroupMounts(cgroups),
                Hooks = spec.Hooks is { } h && (h.Prestart?.Count > 0 || h.CreateRuntime?.Count > 0 || h.CreateContainer?.Count > 0 || h.StartContainer?.Count > 0),
                Seccomp = config.SeccompFilter is { } filter ? SeccompProgram.From(filter) : null,
                SeccompListenerFd = listener?.B.Value ?? -1,
                Debug = DebugLog.Enabled,
                BindSourceFds = bindSources.FdNumbers,
                NewCgroupNamespace = CloneFlags.For(config.Namespaces).UnshareCgroup,
            }, warn ?? (_ => { }), () =>
            {
                // In the runtime's namespaces, after init made its mounts and before it pivots (runc's order).
                var creating = HookState(state, init!.Pid, ContainerStatus.Creating);
                HookRunner.Run("prestart", spec.Hooks?.Prestart, creating);
                HookRunner.Run("createRuntime", spec.Hooks?.CreateRuntime, creating);
                return creating;
            }, listener is { } l ? (l.A, notifyFd => SeccompListenerClient.Send(spec.Linux!.Seccomp!, HookState(state, init!.Pid, ContainerStatus.Creating), notifyFd)) : null);

            setup.Dispose();
            DebugLog.Write($"init {init.Pid} is ready and waits for start on {StateStore.FifoName}");
            state.Ready = true;
            Store.Write(state);
            if (options.PidFile is not null) PidFile.Write(options.PidFile, init.Pid);
            return new Container(Store, state, claim, init) { ConsoleReceiver = consoleReceiver };
        }
        catch (Exception e)
        {
            // An init that the OOM killer ended, or that could not start its threads, cannot say so itself; its cgroups
            // can (runc: "container init was OOM-killed (memory limit too low?)"). Read before they go.
            string? limit = !cgroupsMade ? null
                : LimitEvents.OomKills(cgroups.Paths) > limitsBefore.Oom ? $"the OOM killer ended it (linux.resources.memory.limit is {resources.Spec.Memory?.Limit?.ToString() ?? "not set"})"
                : LimitEvents.PidsLimitHits(cgroups.Paths) > limitsBefore.Pids ? $"it hit linux.resources.pids.limit ({resources.Spec.Pids?.Limit}), and init needs a few threads"
                : null;
            consoleReceiver?.Dispose();
            init?.Kill();
            init?.Dispose();
            try { if (cgroupsMade) cgroups.Destroy(); } catch (Exception) { /* the original error matters more */ }
            Store.Remove(id);
            claim.Dispose();
            if (limit is not null) throw new ContainerException($"{e.Message}: {limit}", e);
            throw;
        }
        finally
        {
            // init has its own copy (or failed): ours must go, or the caller's listener never sees EOF.
            consoleSender?.Dispose();
            listener?.A.Dispose();
            listener?.B.Dispose();
            bindSources?.Dispose();
        }
    }

    public Container Load(string id) => TryLoad(id) ?? throw new ContainerException($"container does not exist: {id}");

    /// <summary>The container, locked; null when there is none (also when it was deleted while we waited for its lock).</summary>
    public Container? TryLoad(string id)
    {
        ContainerId.Validate(id);
        if (Store.TryLock(id) is not { } claim) return null;
        try
        {
            return new Container(Store, Store.Read(id), claim, null);
        }
        catch
        {
            claim.Dispose();
            throw;
        }
    }

    internal static Oci.State HookState(ContainerState state, int pid, ContainerStatus status) => new()
    {
        Id = state.Id,
        Status = status.ToOci(),
        Pid = pid,
        Bundle = state.Bundle,
        Annotations = state.Annotations,
    };

    /// <summary>The host id that container id 0 maps to; 0 without a mapping.</summary>
    static uint HostIdOfRoot(IReadOnlyList<IdMap> maps) =>
        maps.FirstOrDefault(m => m.ContainerId == 0 && m.Size > 0)?.HostId ?? 0;

    /// <summary>As runc: the rootfs must be a directory reached without symlinks, so what we checked is what we mount.</summary>
    static void CheckRootfs(string rootfs)
    {
        var info = new DirectoryInfo(rootfs);
        if (!info.Exists) throw new ContainerException($"rootfs {rootfs} (root.path in config.json) does not exist or is not a directory");
        string? real = RealPath(rootfs);
        if (real != Path.TrimEndingDirectorySeparator(rootfs))
            throw new ContainerException($"rootfs {rootfs} (root.path in config.json) must not be reached through a symlink (it resolves to {real})");
    }

    static string? RealPath(string path)
    {
        string current = "/";
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            var target = new FileInfo(current).ResolveLinkTarget(returnFinalTarget: true);
            if (target is not null) current = target.FullName;
        }
        return current;
    }

    static List<CgroupMountSource> CgroupMounts(CgroupManager cgroups) =>
        cgroups.Paths.Select(p => new CgroupMountSource(
            Name: p.Key switch { "name=systemd" => "systemd", _ => p.Key },
            HostPath: p.Value,
            IsV2: p.Key is "unified" or "",
            MountOptions: p.Key)).ToList();
}

/// <summary>
/// Writes --pid-file atomically: a new file under a fresh name, created O_EXCL|O_NOFOLLOW in the target's
/// directory, then renamed over the target. Whoever may write that directory (a container with a bind mount of it) can
/// plant symlinks, but never make the runtime write through one: O_EXCL fails on any existing name, and rename replaces
/// a symlink at the target instead of following it.
/// </summary>
public static class PidFile
{
    public static void Write(string path, int pid)
    {
        path = Path.GetFullPath(path);
        string name = Path.GetFileName(path);
        string temporary = $".{name}.{Environment.ProcessId}-{Random.Shared.Next():x8}.tmp";
        try
        {
            using var dir = Sys.Open(Path.GetDirectoryName(path)!, Libc.O_RDONLY | Libc.O_DIRECTORY);
            using (var file = Sys.OpenAt(dir, temporary, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW, 0x1b6 /* 0666 & ~umask */))
                Sys.WriteAll(file, System.Text.Encoding.ASCII.GetBytes(pid.ToString()));
            if (Libc.renameat2(dir.Value, temporary, dir.Value, name, 0) < 0)
            {
                var e = LinuxException.FromLastError("rename", path);
                Libc.unlinkat(dir.Value, temporary, 0);
                throw e;
            }
        }
        catch (LinuxException e)
        {
            throw new ContainerException($"writing the pid file {path}: {e.Message}");
        }
    }
}
