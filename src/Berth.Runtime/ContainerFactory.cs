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
        ContainerId.Validate(id);
        bundle = Path.GetFullPath(bundle);
        if (!Directory.Exists(bundle)) throw new ContainerException($"bundle directory {bundle} does not exist");
        var spec = SpecLoader.Load(bundle);
        if (options.ListenFds > 0 && spec.Process is { } announced)
            announced.Env = [.. announced.Env ?? [], $"LISTEN_FDS={options.ListenFds}", "LISTEN_PID=1"];
        var config = ConfigConverter.Convert(spec, bundle);
        if (UnsupportedFeatures.Find(spec) is { Count: > 0 } unsupported)
            throw new ContainerException($"{SpecLoader.ConfigFileName}: {string.Join("; ", unsupported)}");
        HostMountNamespace.Check(spec, config);
        Sysctls.Validate(config);
        CheckRootfs(config.Rootfs);
        int preserveFds = options.PreserveFds + options.ListenFds;
        PreservedFds.Check(preserveFds);
        var consoleMode = ConsoleModes.Decide(config.Process.Terminal, options.Foreground, options.ConsoleSocket);
        if (consoleMode != ConsoleMode.None) ConsoleSize.From(spec.Process?.ConsoleSize); // refused before anything is made

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
        CgroupManager? cgroups = null;
        InitProcess? init = null;
        (Fd A, Fd B)? listener = null;
        BindSources? bindSources = null;
        try
        {
            cgroups = CgroupManager.ForContainer(CgroupHost.Detect(), id, config.CgroupsPath);
            var state = new ContainerState
            {
                Id = id,
                Bundle = bundle,
                Rootfs = config.Rootfs,
                Created = DateTimeOffset.UtcNow,
                Owner = "",
                CgroupPaths = new Dictionary<string, string>(cgroups.Paths),
                // What Create is about to make: recorded first, so that a create killed halfway through leaves
                // `delete --force` a list of what to remove (its init pid is still 0: stopped).
                CreatedCgroups = [.. cgroups.MissingDirectories()],
                Annotations = spec.Annotations,
                Hooks = spec.Hooks,
            };
            Store.Write(state);
            cgroups.Create();
            state.CreatedCgroups = [.. cgroups.CreatedDirectories];
            Store.Write(state);
            File.WriteAllBytes(Path.Combine(Store.DirFor(id), StateStore.ConfigFile),
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonContext.Default.Spec));
            cgroups.Apply(DeviceCgroupRules.WithDefaults(config.Resources));

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

            init = InitProcess.Start(config, preserveFds, cgroups.AddProcess, inherited, started: pid =>
            {
                // Recorded before init is configured: a create killed from here on leaves `delete --force` a pid to kill.
                state.InitPid = pid;
                state.InitStartTime = ProcStat.Read(pid)?.StartTime ?? 0;
                Store.Write(state);
            });
            listener?.B.Dispose();
            init.Configure(new InitRequest
            {
                Spec = new WireSpec(spec),
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
                BindSourceFds = bindSources.FdNumbers,
            }, warn ?? (_ => { }), () =>
            {
                // In the runtime's namespaces, after init made its mounts and before it pivots (runc's order).
                var creating = HookState(state, init!.Pid, ContainerStatus.Creating);
                HookRunner.Run("prestart", spec.Hooks?.Prestart, creating);
                HookRunner.Run("createRuntime", spec.Hooks?.CreateRuntime, creating);
                return creating;
            }, listener is { } l ? (l.A, notifyFd => SeccompListenerClient.Send(spec.Linux!.Seccomp!, HookState(state, init!.Pid, ContainerStatus.Creating), notifyFd)) : null);
            if (options.PidFile is not null) PidFile.Write(options.PidFile, init.Pid);
            return new Container(Store, state, claim, init) { ConsoleReceiver = consoleReceiver };
        }
        catch
        {
            consoleReceiver?.Dispose();
            init?.Kill();
            init?.Dispose();
            try { cgroups?.Destroy(); } catch (Exception) { /* the original error matters more */ }
            Store.Remove(id);
            claim.Dispose();
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

    public Container Load(string id)
    {
        ContainerId.Validate(id);
        var claim = Store.Lock(id);
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

/// <summary>Writes --pid-file atomically, as runc does.</summary>
public static class PidFile
{
    public static void Write(string path, int pid)
    {
        path = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp");
        File.WriteAllText(tmp, pid.ToString());
        File.Move(tmp, path, overwrite: true);
    }
}
