using System.Collections.Concurrent;
using System.Text.Json;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Daemon.Events;
using Berth.Daemon.Hosting;
using Berth.Daemon.Images;
using Berth.Daemon.Networks;
using Berth.Engine;
using Berth.Linux;
using Berth.Oci;

namespace Berth.Daemon.Containers;

/// <summary>
/// berthd's containers: create (validate, name, record), start (mount the rootfs, Populate, bundle, run), stop,
/// kill, wait, remove, rename and prune, and what happens when a container's init exits (state, unmount,
/// AutoRemove). Each container's state changes under its own lock; waiters hear of exits and removals.
/// </summary>
public sealed class ContainerService
{
    static readonly TimeSpan KillBound = TimeSpan.FromSeconds(30);
    readonly ContainerStore _store;
    readonly ImageBackend _images;
    readonly IContainerRunner _runner;
    readonly ExecDriverTable _drivers;
    readonly EngineEnvironment _environment;
    readonly string _execRoot;
    readonly DaemonLog _log;
    readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, ContainerEvents> _events = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, IDisposable> _holds = new(StringComparer.Ordinal);
    readonly EventBus _bus;
    readonly RestartScheduler _restarts;
    readonly HealthMonitor _health;
    readonly OomWatcher _oom;
    // Made at the first container start, not at berthd's: a fresh data root's ids come from the random number
    // generator, whose OpenSSL (libcrypto, 3.4 MiB of RSS) would otherwise load into an idle berthd.
    readonly object _networksGate = new();
    readonly string _dataRoot;
    PredefinedNetworks? _networks;

    /// <summary>Named volumes: the containers' mounts make them, the /volumes routes manage them.</summary>
    public Volumes.VolumeService Volumes { get; }

    /// <summary>User-defined networks (the /networks routes) and the containers' places on them.</summary>
    public NetworkService Networks { get; }

    public ContainerService(DaemonOptions options, ImageBackend images, IContainerRunner runner, ExecDriverTable drivers, DaemonLog log, EventBus? events = null)
    {
        _bus = events ?? new EventBus();
        _images = images;
        _runner = runner;
        _drivers = drivers;
        _log = log;
        _execRoot = options.ExecRoot;
        _store = new ContainerStore(options.DataRoot, (dir, error) => log.Warn("container directory without a record", ("dir", dir), ("error", error)));
        _environment = new EngineEnvironment(new DaemonSettings { DataRoot = options.DataRoot }, EngineHost(), new HostDevices(), new StoreResolver(_store));
        Volumes = new Volumes.VolumeService(options.DataRoot, () => _store.List().Select(r => (r.Id, (IReadOnlyList<string>)UserMounts.VolumeNames(r.HostConfig, r.AnonymousVolumes))));
        images.ContainerUsing = imageId => _store.UserOfImage(imageId) is { } r ? (r.ShortId, r.Running) : null;
        _health = new HealthMonitor(runner, Publish, log);
        _oom = new OomWatcher(log);
        _dataRoot = options.DataRoot;
        _restarts = new RestartScheduler(_store, log, LockOf, StartLockedAsync, StartAsync);
        Networks = new NetworkService(options.DataRoot, options.ExecRoot, options.AddressPools,
            [.. SandboxFiles.Nameservers(_environment.Host.ResolvConf).Select(ip => new System.Net.IPEndPoint(ip, 53))], Predefined, () => _store.List(), log);
        var records = _store.List().ToList();
        foreach (var record in records) Restore(record);
        // As dockerd's restore: what the policies start again, else a stopped --rm container (never started, or
        // exited while berthd was down) is removed.
        var starts = records.Where(RestartScheduler.StartsAtBoot).Select(r => r.Id).ToList();
        var removals = records.Where(r => !r.Running && r.HostConfig.AutoRemove).ToList();
        if (starts.Count > 0 || removals.Count > 0) _ = Task.Run(() => BootAsync(removals, starts));
    }

    /// <summary>berthd stops: back-offs in progress end (their containers are left exited) and health checks stop.</summary>
    public void Shutdown()
    {
        _restarts.Dispose();
        _health.Dispose();
        _oom.Dispose();
    }

    public ContainerStore Store => _store;

    public IContainerRunner Runner => _runner;

    /// <summary>The exec drivers containers may choose (GET /info lists them).</summary>
    public ExecDriverTable Drivers => _drivers;

    public string BundleOf(string id) => Path.Combine(_execRoot, "containers", id, "bundle");

    static Berth.Engine.HostFacts EngineHost() => new()
    {
        Hostname = Environment.MachineName,
        KernelRelease = ReadOr("/proc/sys/kernel/osrelease", "").Trim(),
        OnlineCpus = ReadOr("/sys/devices/system/cpu/online", "0").Trim(),
        OnlineMems = ReadOr("/sys/devices/system/node/online", "0").Trim(),
        ResolvConf = ReadOr("/etc/resolv.conf", ""),
        Hosts = ReadOr("/etc/hosts", ""),
    };

    static string ReadOr(string path, string fallback)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return fallback;
        }
    }

    /// <summary>
    /// After a restart: a container whose monitor still runs is followed again (live-restore), its health checks
    /// resumed; one that exited while berthd was down gets the exit its monitor recorded; one whose monitor left no
    /// trace has exited with 255.
    /// </summary>
    void Restore(ContainerRecordFile record)
    {
        HoldImage(record);
        if (record.Running)
        {
            var (pid, exit) = _runner.Restore(record.Id, record.Driver, ExitFileOf(record));
            if (pid is { } running)
            {
                if (record.State.Status == "restarting") record.State.Status = "running"; // berthd died while restarting it
                record.State.Restarting = false;
                record.State.Pid = running;
                _log.Info("container still runs from before the restart: following its monitor again", ("id", record.Id), ("pid", running));
                RestoreEndpoint(record);
                WatchOom(record);
                _oom.Release(record.Id);
                EventsOf(record.Id).Exited = FollowExitAsync(record, null);
                _health.Start(record, SafeMerge(record.Config, ImageConfigOf(record)), BundleOf(record.Id));
                return;
            }
            if (NamespaceMode.NamesUserNetwork(record.HostConfig.NetworkMode) && record.Network is { } left)
                Networks.Sandboxes.Forget(left.SandboxKey, left.HostVeth);
            MarkExited(record, exit ?? new ContainerExit(255, DateTimeOffset.UtcNow, Error: "the container's monitor and its exit record were gone when berthd started"));
            TryUnmount(record);
            TryDelete(record.Id);
            _store.Save(record);
        }
    }

    /// <summary>A container on a user-defined network that ran through berthd's restart keeps its address, and its names answer again.</summary>
    void RestoreEndpoint(ContainerRecordFile record)
    {
        if (!NamespaceMode.NamesUserNetwork(record.HostConfig.NetworkMode)) return;
        string networkName;
        try
        {
            networkName = Networks.Resolve(record.HostConfig.NetworkMode).Name;
        }
        catch (ApiException)
        {
            _log.Warn("the running container's network is gone", ("id", record.Id), ("network", record.HostConfig.NetworkMode));
            return;
        }
        if (ContainerNetworks.EndpointOf(record, networkName) is not { } endpoint) return;
        var ports = new Dictionary<string, List<PortBinding>?>(endpoint.Ports);
        endpoint.Ports.Clear();
        Networks.Sandboxes.Restore(endpoint);
        Networks.Sandboxes.Republish(endpoint, ports);
    }

    /// <summary>After the restore, in the background: the --rm containers left stopped are removed, then the policies' starts made.</summary>
    async Task BootAsync(List<ContainerRecordFile> removals, List<string> starts)
    {
        foreach (var record in removals)
        {
            _log.Info("removing the stopped container (AutoRemove) found at start", ("id", record.Id));
            await TryAutoRemoveAsync(record);
        }
        await _restarts.StartAtBootAsync(starts);
    }

    string ExitFileOf(ContainerRecordFile record) => Path.Combine(_store.DirOf(record.Id), "exit.json");

    void HoldImage(ContainerRecordFile record)
    {
        try
        {
            var image = _images.ResolveForContainer(record.Image);
            _holds[record.Id] = _images.HoldLayers(image.ChainIds);
        }
        catch (ApiException)
        {
            // Its image is gone (removed before the container): start will say so.
        }
    }

    SemaphoreSlim LockOf(string id) => _locks.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
    ContainerEvents EventsOf(string id) => _events.GetOrAdd(id, _ => new ContainerEvents());

    /// <summary>dockerd's container event: the labels of the merged config, the image as the client named it, the name.</summary>
    void Publish(ContainerRecordFile record, string action, Dictionary<string, string>? extra = null) =>
        _bus.PublishContainer(action, record.Id, record.ImageName, record.Name, SafeMerge(record.Config, ImageConfigOf(record)).Labels, extra);

    /// <summary>An exec's event (<see cref="ExecEvents"/>), with the container's attributes.</summary>
    internal void PublishExec(ContainerRecordFile record, string action, Dictionary<string, string> attributes) => Publish(record, action, attributes);

    // ---------------------------------------------------------------- create

    /// <summary>POST /containers/create: the new id and the warnings; nothing is left behind when it fails.</summary>
    public (string Id, List<string> Warnings) Create(ContainerCreateRequest request, string? name)
    {
        string? wanted = string.IsNullOrEmpty(name) ? null : ContainerNames.Normalize(name);
        if (request.Image.Length == 0) throw ApiException.BadRequest("Config.Image is required: the image to create the container from");
        var image = _images.ResolveForContainer(request.Image);
        var networkMode = request.HostConfig?.NetworkMode ?? "";
        ValidatedContainer validated;
        try
        {
            validated = ContainerValidator.Validate(request, image.Config, request.HostConfig, request.NetworkingConfig, _environment);
        }
        catch (ContainerConfigException e)
        {
            throw new ApiException(e.StatusCode, e.Message);
        }
        // As dockerd, the network itself is looked up at the start ("network X not found" then), the ports checked now.
        if (NamespaceMode.NamesUserNetwork(networkMode)) NetworkSandboxes.PortsOf(validated.HostConfig, validated.Config.ExposedPorts?.Keys);
        string id = ContainerNames.NewId();
        if (wanted is not null) _store.ReserveName(wanted, id);
        else wanted = _store.ReserveGeneratedName(id);
        string dir = _store.DirOf(id);
        var anonymous = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            // Named volumes the mounts use exist from the create on, as dockerd makes them (an existing one is kept); each
            // -v /path, --mount without source and Config.Volumes path (the image's VOLUMEs too) not otherwise mounted gets a
            // new volume with a random name (20.10 gives it no label). Both are held for the container until its record is saved.
            foreach (string volume in UserMounts.VolumeNames(request.HostConfig ?? new HostConfig()))
                Volumes.Ensure(volume, holder: id);
            foreach (string destination in UserMounts.AnonymousDestinations(request.HostConfig ?? new HostConfig(), validated.Config.Volumes?.Keys))
            {
                string volume = Berth.Daemon.Volumes.VolumeService.NewName();
                Volumes.Ensure(volume, holder: id);
                anonymous[destination] = volume;
            }
            Directory.CreateDirectory(dir, (UnixFileMode)0x1c0);
            RootfsMounter.PrepareLayer(dir);
            var config = Copy(request);
            var hostConfig = request.HostConfig ?? new HostConfig();
            hostConfig.Runtime = _drivers.Choose(hostConfig.Runtime);
            var record = new ContainerRecordFile
            {
                Id = id,
                Name = wanted,
                Created = ContainerJson.Rfc3339Nano(DateTimeOffset.UtcNow),
                Image = image.Id,
                ImageName = request.Image,
                Config = config,
                HostConfig = hostConfig,
                Driver = hostConfig.Runtime,
                LogPath = Path.Combine(dir, id + "-json.log"),
                HostnamePath = Path.Combine(dir, "hostname"),
                HostsPath = Path.Combine(dir, "hosts"),
                ResolvConfPath = Path.Combine(dir, "resolv.conf"),
                Endpoint = NamespaceMode.NamesUserNetwork(networkMode) ? request.NetworkingConfig?.EndpointsConfig?.GetValueOrDefault(networkMode) : null,
                AnonymousVolumes = anonymous.Count > 0 ? anonymous : null,
            };
            // Created now, so an attach made before the start (docker run) has a file to follow.
            File.WriteAllBytes(record.LogPath, []);
            _store.Add(record);
            _holds[id] = _images.HoldLayers(image.ChainIds);
            _log.Info("container created", ("id", id), ("name", wanted), ("image", request.Image));
            Publish(record, "create");
            return (id, [.. validated.Warnings]);
        }
        catch
        {
            _store.ReleaseName(wanted, id);
            ContainerStore.DeleteDirectory(dir);
            Volumes.Release(id);
            foreach (string volume in anonymous.Values) Volumes.Remove(volume, force: true);
            throw;
        }
        finally
        {
            Volumes.Release(id);
        }
    }

    /// <summary>The Config part of a create body alone (the request type carries HostConfig too).</summary>
    static ContainerConfig Copy(ContainerConfig config) =>
        JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(config, ApiJson.Context.ContainerConfig), ApiJson.Context.ContainerConfig)!;

    // ---------------------------------------------------------------- start

    /// <summary>POST /containers/{id}/start: false when it already runs (304).</summary>
    public async Task<bool> StartAsync(string reference)
    {
        var record = _store.Get(reference);
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        bool removeAfterFailure = false;
        try
        {
            if (record.State.Status == "paused") throw ApiException.Conflict("cannot start a paused container, try unpause instead");
            if (record.Running) return false;
            if (record.State.Status == "removing") throw ApiException.Conflict($"cannot start container {record.Id}: it is being removed");
            _restarts.StartedByUser(record);
            try
            {
                await StartLockedAsync(record);
            }
            catch when (record.HostConfig.AutoRemove)
            {
                removeAfterFailure = true;
                throw;
            }
            return true;
        }
        finally
        {
            gate.Release();
            // As dockerd: a --rm container whose start failed is removed (its "removed" waiters hear of it).
            if (removeAfterFailure) await TryAutoRemoveAsync(record);
        }
    }

    async Task StartLockedAsync(ContainerRecordFile record)
    {
        string dir = _store.DirOf(record.Id);
        string bundle = BundleOf(record.Id);
        SharedShm? shm = null;
        ContainerEndpoint? endpoint = null;
        try
        {
            var image = _images.ResolveForContainer(record.Image);
            string rootfs = RootfsMounter.Mount(dir, _images.LowerDirs(image.ChainIds));
            var merged = SafeMerge(record.Config, image.Config);
            // On a user-defined network the namespace is made and joined to the network first: the spec names its file.
            if (NamespaceMode.NamesUserNetwork(record.HostConfig.NetworkMode))
            {
                if (record.NetworkDisconnected)
                    throw ApiException.Conflict($"container {record.Name.TrimStart('/')} was disconnected from network {record.HostConfig.NetworkMode}: connect it again (docker network connect) before starting it");
                var ports = NetworkSandboxes.PortsOf(record.HostConfig, merged.ExposedPorts?.Keys);
                endpoint = Networks.Sandboxes.Join(record.Id, record.Name.TrimStart('/'), record.Config.Hostname, record.HostConfig.NetworkMode, record.Endpoint);
                Networks.Sandboxes.Publish(endpoint, ports);
            }
            Command command;
            try
            {
                command = Populate.Command(new ContainerRecord(record.Id, record.Name, record.Config, record.HostConfig, rootfs)
                    {
                        AnonymousVolumes = record.AnonymousVolumes,
                        Network = endpoint is null ? null : new NetworkAttachment(endpoint.NetnsPath, endpoint.Address),
                    },
                    image.Config, new RootfsUsers(rootfs), _environment);
            }
            catch (ContainerConfigException e)
            {
                throw new ApiException(e.StatusCode, e.Message);
            }
            foreach (var file in command.Files) File.WriteAllText(file.Path, file.Content);
            if (command.SharedShm is { } wantedShm)
            {
                Directory.CreateDirectory(wantedShm.Path);
                if (Libc.mount("shm", wantedShm.Path, "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, $"mode=1777,size={wantedShm.Size}") < 0)
                    throw LinuxException.FromLastError("mount(tmpfs)", wantedShm.Path);
                shm = wantedShm;
            }
            if (command.WorkingDir is { } workdir) CreateWorkingDir(rootfs, workdir);
            // A named volume that is still empty gets the image's files at its destination, as dockerd copies them.
            foreach (var volume in command.UserMounts.Where(m => m.VolumeName is not null && !m.NoCopy))
            {
                Volumes.Ensure(volume.VolumeName!);
                await Volumes.CopyUpAsync(rootfs, volume.Destination, volume.VolumeName!, dir);
            }
            // -v makes a missing source a directory (mode 0755, root's), as dockerd does at start; --mount refused it at create.
            foreach (string source in command.UserMounts.Where(m => m.CreateSource).Select(m => m.Source))
                if (!Path.Exists(source)) Directory.CreateDirectory(source, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            Directory.CreateDirectory(bundle);
            await File.WriteAllBytesAsync(Path.Combine(bundle, "config.json"), JsonSerializer.SerializeToUtf8Bytes(command.Spec, OciJsonContext.Default.Spec));
            var launch = new ContainerLaunch(record.Id, record.Driver, bundle, record.LogPath, ExitFileOf(record),
                record.Config.Tty, record.Config.OpenStdin, record.Config.StdinOnce);
            await _runner.CreateAsync(launch);
            WatchOom(record);
            // Attaches made before the start (docker run attaches, then starts) join now: the init has not run yet.
            EventsOf(record.Id).ConnectPendingAttaches(_runner.Monitor(record.Id));
            int pid = await _runner.StartAsync(record.Id);
            record.State = new ContainerState
            {
                Status = "running",
                Running = true,
                Pid = pid,
                StartedAt = ContainerJson.Rfc3339Nano(DateTimeOffset.UtcNow),
                FinishedAt = record.State.FinishedAt,
                Health = record.State.Health,
            };
            ContainerNetworks.Started(record, pid, Predefined(), endpoint);
            _health.Start(record, merged, bundle);
            _store.Save(record);
            var events = EventsOf(record.Id);
            events.Exited = FollowExitAsync(record, shm);
            _log.Info("container started", ("id", record.Id), ("pid", pid));
            Publish(record, "start");
            _oom.Release(record.Id);
        }
        catch (Exception e)
        {
            _oom.Stop(record.Id);
            if (endpoint is not null) await Networks.Sandboxes.LeaveAsync(record.Id);
            if (shm is not null) Libc.umount2(shm.Path, Libc.MNT_DETACH);
            TryUnmount(record);
            TryDelete(record.Id);
            record.State.Error = e.Message;
            record.State.ExitCode = 128;
            _store.Save(record);
            // An attach made for this start (docker run's) ends now, or its client would wait forever.
            EventsOf(record.Id).FailPendingAttaches($"the container did not start: {e.Message}");
            if (e is ContainerRunnerException) throw new ApiException(500, e.Message, e);
            throw;
        }
    }

    /// <summary>The oom event when the OOM killer acts in the container's cgroup (created by now), as dockerd's.</summary>
    PredefinedNetworks Predefined()
    {
        lock (_networksGate) return _networks ??= PredefinedNetworks.Load(_dataRoot);
    }

    void WatchOom(ContainerRecordFile record) => _oom.Start(record.Id, BundleOf(record.Id), () => Publish(record, "oom"));

    /// <summary>dockerd creates a missing working directory; no component may be a symlink (it could lead out of the rootfs).</summary>
    static void CreateWorkingDir(string rootfs, string workdir)
    {
        string path = rootfs;
        foreach (var part in workdir.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path = Path.Combine(path, part);
            if (Libc.fstatat(Libc.AT_FDCWD, path, out var st, Libc.AT_SYMLINK_NOFOLLOW) == 0)
            {
                if (st.FileType != Libc.S_IFDIR) return; // a symlink or a file: the runtime resolves or refuses it
                continue;
            }
            Directory.CreateDirectory(path);
            File.SetUnixFileMode(path, (UnixFileMode)0x1ed);
        }
    }

    /// <summary>
    /// Records the exit, unmounts, tells the waiters, and then restarts the container per its restart policy (after
    /// the back-off) or removes an AutoRemove container.
    /// </summary>
    async Task FollowExitAsync(ContainerRecordFile record, SharedShm? shm)
    {
        var exit = await _runner.WaitAsync(record.Id);
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        TimeSpan? restartIn;
        try
        {
            _health.Stop(record.Id);
            bool oomReported = _oom.Stop(record.Id);
            var ran = exit.FinishedAt - ContainerJson.ParseTime(record.State.StartedAt);
            MarkExited(record, exit);
            await Networks.Sandboxes.LeaveAsync(record.Id);
            restartIn = _restarts.AtExit(record, exit, ran);
            if (shm is not null) Libc.umount2(shm.Path, Libc.MNT_DETACH);
            TryUnmount(record);
            TryDelete(record.Id);
            if (_store.Find(record.Id) is not null) _store.Save(record);
            _log.Info("container exited", ("id", record.Id), ("exit-code", exit.ExitCode));
            // The watch reported the kill when it came; one it did not see (no watch, berthd was down) is reported now.
            if (exit.OOMKilled && !oomReported) Publish(record, "oom");
            Publish(record, "die", new() { ["exitCode"] = exit.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
        finally
        {
            gate.Release();
        }
        EventsOf(record.Id).SignalExit(exit.ExitCode);
        if (restartIn is { } delay)
        {
            await _restarts.RestartAfterAsync(record, delay);
            return;
        }
        if (record.HostConfig.AutoRemove) await TryAutoRemoveAsync(record);
    }

    /// <summary>
    /// A stop or kill by the user (dockerd's killWithSignal): the container counts as stopped by the user, and its
    /// restart policy ends when the signal is SIGKILL or its stop signal (any, when it has none). The container's
    /// current exit (its back-off included), and whether it is in its back-off now.
    /// </summary>
    (Task? Exited, bool Restarting) StoppedByUser(ContainerRecordFile record, int signal)
    {
        var gate = LockOf(record.Id);
        gate.Wait();
        try
        {
            _restarts.StoppedByUser(record, signal, SafeMerge(record.Config, ImageConfigOf(record)).StopSignal);
            _health.Stop(record.Id);
            return (EventsOf(record.Id).Exited, record.State.Status == "restarting");
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Removes an AutoRemove container after its exit or its failed start; failures are logged, not thrown.</summary>
    async Task TryAutoRemoveAsync(ContainerRecordFile record)
    {
        try
        {
            // With its anonymous volumes, as dockerd removes an AutoRemove container.
            await RemoveAsync(record.Id, force: false, volumes: true);
        }
        catch (ApiException e) when (e.StatusCode == 404)
        {
            // Removed meanwhile (docker rm -f).
        }
        catch (Exception e)
        {
            _log.Error("cannot remove the container (AutoRemove)", ("id", record.Id), ("error", e.Message));
        }
    }

    static void MarkExited(ContainerRecordFile record, ContainerExit exit)
    {
        record.State.Status = "exited";
        record.State.Running = false;
        record.State.Paused = false;
        record.State.Restarting = false;
        record.State.Pid = 0;
        record.State.ExitCode = exit.ExitCode;
        record.State.OOMKilled = exit.OOMKilled;
        record.State.Error = exit.Error;
        record.State.FinishedAt = ContainerJson.Rfc3339Nano(exit.FinishedAt);
        ContainerNetworks.Exited(record);
    }

    void TryUnmount(ContainerRecordFile record)
    {
        try
        {
            RootfsMounter.Unmount(_store.DirOf(record.Id));
        }
        catch (LinuxException e)
        {
            _log.Error("cannot unmount the container's rootfs", ("id", record.Id), ("error", e.Message));
        }
    }

    void TryDelete(string id)
    {
        try
        {
            _runner.Delete(id, force: true);
        }
        catch (ContainerRunnerException e)
        {
            _log.Warn("cannot delete the runtime's state", ("id", id), ("error", e.Message));
        }
        try
        {
            string state = Path.Combine(_execRoot, "containers", id);
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
        }
        catch (IOException e)
        {
            _log.Warn("cannot remove the container's exec-root directory", ("id", id), ("error", e.Message));
        }
    }

    // ---------------------------------------------------------------- stop, kill, restart, wait

    /// <summary>POST /containers/{id}/stop: false when it was not running (304).</summary>
    public async Task<bool> StopAsync(string reference, int? timeoutSeconds)
    {
        var record = _store.Get(reference);
        if (!record.Running) return false;
        await StopRunningAsync(record, timeoutSeconds);
        return true;
    }

    async Task StopRunningAsync(ContainerRecordFile record, int? timeoutSeconds)
    {
        var merged = ImageConfigOf(record) is var image ? SafeMerge(record.Config, image) : record.Config;
        int signal = Signals.Parse(string.IsNullOrEmpty(merged.StopSignal) ? "SIGTERM" : merged.StopSignal);
        int timeout = timeoutSeconds ?? merged.StopTimeout ?? _environment.Daemon.DefaultStopTimeout;
        var (exited, restarting) = StoppedByUser(record, signal);
        if (exited is null) return;
        if (restarting)
        {
            // Nothing runs: the cancelled back-off leaves it exited.
            if (!await Finished(exited, KillBound)) throw new ApiException(500, $"container {record.Id} did not leave its restart back-off within {KillBound.TotalSeconds} s");
            Publish(record, "stop");
            return;
        }
        if (signal != 9) SendSignal(record, signal);
        if (timeout >= 0 ? await Finished(exited, TimeSpan.FromSeconds(timeout)) : await Finished(exited, Timeout.InfiniteTimeSpan))
        {
            Publish(record, "stop");
            return;
        }
        _log.Info("container did not stop on its signal: killing it", ("id", record.Id), ("signal", signal), ("timeout", timeout));
        SendSignal(record, 9);
        if (!await Finished(exited, KillBound))
            throw new ApiException(500, $"container {record.Id} did not exit within {KillBound.TotalSeconds} s of SIGKILL");
        Publish(record, "stop");
    }

    static async Task<bool> Finished(Task task, TimeSpan bound) => await Task.WhenAny(task, Task.Delay(bound)) == task;

    void SendSignal(ContainerRecordFile record, int signal)
    {
        try
        {
            _runner.Signal(record.Id, signal, all: false);
            PublishKill(record, signal);
        }
        catch (ContainerRunnerException e)
        {
            // It exited between the check and the signal: the exit follows.
            _log.Debug("signal not delivered", ("id", record.Id), ("signal", signal), ("error", e.Message));
        }
        ThawAfterSignal(record, signal);
    }

    /// <summary>How long a SIGKILL's answer waits for the container's exit to be recorded.</summary>
    static readonly TimeSpan KillExitBound = TimeSpan.FromSeconds(30);

    /// <summary>
    /// POST /containers/{id}/kill?signal= (SIGKILL by default); 409 when it is not running, as dockerd. With SIGKILL the
    /// answer comes once the exit is recorded, as dockerd's (daemon.Kill waits until the container is not running), so
    /// that `docker kill c; docker rm c` finds it stopped; other signals are answered once sent.
    /// </summary>
    public async Task KillAsync(string reference, string? signalText)
    {
        var record = _store.Get(reference);
        int signal;
        try
        {
            signal = string.IsNullOrEmpty(signalText) ? 9 : Signals.Parse(signalText);
        }
        catch (ContainerConfigException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
        if (!record.Running) throw ApiException.Conflict($"Cannot kill container: {reference}: Container {record.Id} is not running");
        // In its back-off nothing runs to be signalled: cancelling the restart is enough, as dockerd.
        if (StoppedByUser(record, signal).Restarting) return;
        // Taken before the signal: the exit can be recorded before the signal call returns.
        var exited = EventsOf(record.Id).NextExit;
        try
        {
            _runner.Signal(record.Id, signal, all: false);
        }
        catch (ContainerRunnerException e)
        {
            throw new ApiException(500, $"Cannot kill container: {reference}: {e.Message}", e);
        }
        PublishKill(record, signal);
        ThawAfterSignal(record, signal);
        if (signal != 9) return;
        try
        {
            await exited.WaitAsync(KillExitBound);
        }
        catch (TimeoutException)
        {
            throw new ApiException(500, $"Cannot kill container: {reference}: SIGKILL was sent, but its exit was not recorded within {KillExitBound.TotalSeconds:0} s");
        }
    }

    // ---------------------------------------------------------------- archive (docker cp)

    /// <summary>
    /// The container's rootfs for a copy (<see cref="Archive.RootfsLease"/>): under its lock; mounted for the copy and
    /// unmounted after it when the container does not run. 404 for an unknown or removed container.
    /// </summary>
    public async Task<Archive.RootfsLease> LeaseRootfsAsync(string reference)
    {
        var record = _store.Get(reference);
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        bool mounted = false;
        try
        {
            if (_store.Find(record.Id) is null) throw ContainerNames.NotFound(reference);
            if (record.State.Status == "removing") throw ApiException.Conflict($"container {record.Id} is being removed");
            string dir = _store.DirOf(record.Id);
            string rootfs = RootfsMounter.RootfsPath(dir);
            if (!RootfsMounter.IsMounted(rootfs))
            {
                var image = _images.ResolveForContainer(record.Image);
                RootfsMounter.Mount(dir, _images.LowerDirs(image.ChainIds));
                mounted = true;
            }
            var root = new Archive.ContainerRoot(rootfs);
            string user = SafeMerge(record.Config, ImageConfigOf(record)).User ?? "";
            var mounts = UserMounts.MountPoints(record.HostConfig, Volumes.Root, record.AnonymousVolumes).Select(m => m.Destination).ToList();
            return new Archive.RootfsLease(record.Id, user, record.HostConfig.ReadonlyRootfs, root, () =>
            {
                if (mounted) TryUnmount(record);
                gate.Release();
            }, mounts);
        }
        catch
        {
            if (mounted) TryUnmount(record);
            gate.Release();
            throw;
        }
    }

    // ---------------------------------------------------------------- pause, unpause (ContainerPauser)

    /// <summary>POST /containers/{id}/pause (<paramref name="pause"/>) and /unpause.</summary>
    public async Task PauseAsync(string reference, bool pause)
    {
        var record = _store.Get(reference);
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        try
        {
            if (pause) ContainerPauser.Pause(record, _runner);
            else ContainerPauser.Unpause(record, _runner);
            _store.Save(record);
        }
        finally
        {
            gate.Release();
        }
        Publish(record, pause ? "pause" : "unpause");
    }

    // ---------------------------------------------------------------- update (ResourceUpdate)

    /// <summary>POST /containers/{id}/update: the merged HostConfig applied to the running container's cgroup, then kept in the record.</summary>
    public async Task<List<string>> UpdateAsync(string reference, ContainerUpdateRequest update)
    {
        var record = _store.Get(reference);
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        try
        {
            var host = ResourceUpdate.Merge(record, update, ImageConfigOf(record), _environment);
            if (record.Running)
            {
                try
                {
                    _runner.Update(record.Id, ResourceUpdate.ForRunning(host));
                }
                catch (ContainerRunnerException e)
                {
                    throw new ApiException(500, $"Cannot update container {record.Id}: {e.Message}", e);
                }
            }
            record.HostConfig = host;
            _store.Save(record);
        }
        finally
        {
            gate.Release();
        }
        Publish(record, "update");
        return [];
    }

    /// <summary>Unpauses a paused container after a signal that must reach it (<see cref="ContainerPauser.ThawsAfter"/>).</summary>
    void ThawAfterSignal(ContainerRecordFile record, int signal)
    {
        if (record.State.Status != "paused" || !ContainerPauser.ThawsAfter(signal, SafeMerge(record.Config, ImageConfigOf(record)).StopSignal)) return;
        var gate = LockOf(record.Id);
        if (!gate.Wait(KillBound)) return;
        try
        {
            // A frozen container cannot exit, so no exit was recorded meanwhile; check anyway.
            if (record.State.Status != "paused") return;
            ContainerPauser.Unpause(record, _runner);
            _store.Save(record);
        }
        catch (ApiException e)
        {
            _log.Error("cannot unpause the container after a signal", ("id", record.Id), ("signal", signal), ("error", e.Message));
            return;
        }
        finally
        {
            gate.Release();
        }
        Publish(record, "unpause");
    }

    void PublishKill(ContainerRecordFile record, int signal) =>
        Publish(record, "kill", new() { ["signal"] = signal.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    /// <summary>POST /containers/{id}/restart?t=: stop when running, then start.</summary>
    public async Task RestartAsync(string reference, int? timeoutSeconds)
    {
        var record = _store.Get(reference);
        if (record.Running) await StopRunningAsync(record, timeoutSeconds);
        await StartAsync(record.Id);
        Publish(record, "restart");
    }

    /// <summary>
    /// POST /containers/{id}/wait: the exit code once the condition holds (not-running: now when it is not running;
    /// next-exit: its next exit; removed: once it is gone).
    /// </summary>
    public async Task<int> WaitAsync(string reference, string condition, CancellationToken ct)
    {
        var record = _store.Get(reference);
        var events = EventsOf(record.Id);
        switch (condition)
        {
            case "" or "not-running":
                if (!record.Running) return record.State.ExitCode;
                return await events.NextExit.WaitAsync(ct);
            case "next-exit":
                return await events.NextExit.WaitAsync(ct);
            case "removed":
                return await events.Removed.WaitAsync(ct);
            default:
                throw ApiException.BadRequest($"invalid condition: \"{condition}\"");
        }
    }

    // ---------------------------------------------------------------- remove, rename, prune

    /// <summary>DELETE /containers/{id}?force=&amp;v=: 409 for a running container without force.</summary>
    public async Task RemoveAsync(string reference, bool force, bool volumes)
    {
        var record = _store.Get(reference);
        // With force, a start that came between the kill and the removal (a restart policy's, berthd's at boot) is
        // killed in turn; a third one is a conflict.
        for (int attempt = 1; !await TryRemoveAsync(record, reference, force, lastAttempt: attempt == 3); attempt++)
        {
        }
        if (volumes) RemoveAnonymousVolumes(record);
        if (_events.TryRemove(record.Id, out var events)) events.SignalRemoved(record.State.ExitCode);
        _locks.TryRemove(record.Id, out _);
    }

    /// <summary>
    /// rm -v: the volumes the container's create made, not the named ones it used. One another container still uses is
    /// kept without an error, as dockerd keeps it; any other failure is the answer's error after the container is gone.
    /// </summary>
    void RemoveAnonymousVolumes(ContainerRecordFile record)
    {
        var failures = new List<string>();
        foreach (string volume in record.AnonymousVolumes?.Values ?? Enumerable.Empty<string>())
        {
            try
            {
                Volumes.Remove(volume, force: true);
            }
            catch (ApiException e) when (e.StatusCode == 409)
            {
            }
            catch (Exception e) when (e is ApiException or IOException or UnauthorizedAccessException)
            {
                failures.Add(e.Message);
            }
        }
        if (failures.Count > 0) throw new ApiException(500, $"cannot remove the volumes of container {record.Id}: {string.Join("; ", failures)}");
    }

    /// <summary>One attempt of <see cref="RemoveAsync"/>: false when, with force, it found the container running again.</summary>
    async Task<bool> TryRemoveAsync(ContainerRecordFile record, string reference, bool force, bool lastAttempt)
    {
        if (record.Running)
        {
            if (!force)
                throw ApiException.Conflict($"You cannot remove a running container {record.Id}. Stop the container before attempting removal or force remove");
            if (!StoppedByUser(record, 9).Restarting) SendSignal(record, 9);
            if (EventsOf(record.Id).Exited is { } exited && !await Finished(exited, KillBound))
                throw new ApiException(500, $"Could not kill running container {record.Id}, cannot remove: it did not exit within {KillBound.TotalSeconds} s");
        }
        else if (force)
        {
            StoppedByUser(record, 9); // nothing may start it before it is gone
        }
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        try
        {
            if (_store.Find(record.Id) is null) throw ContainerNames.NotFound(reference);
            if (record.Running)
            {
                if (force && !lastAttempt) return false;
                throw ApiException.Conflict($"You cannot remove a running container {record.Id}. Stop the container before attempting removal or force remove");
            }
            TryUnmount(record);
            // Deleting the directory through a rootfs still mounted would reach into the image's view.
            if (RootfsMounter.IsMounted(RootfsMounter.RootfsPath(_store.DirOf(record.Id))))
                throw new ApiException(500, $"cannot remove container {record.Id}: its rootfs is still mounted at {RootfsMounter.RootfsPath(_store.DirOf(record.Id))}");
            TryDelete(record.Id);
            _store.Remove(record);
            _restarts.Removed(record.Id);
            if (_holds.TryRemove(record.Id, out var hold)) hold.Dispose();
            _log.Info("container removed", ("id", record.Id));
            Publish(record, "destroy");
            return true;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// POST /networks/{id}/connect for a container that is not running, to the network its NetworkMode names: the
    /// endpoint settings (aliases, an address) it will join with. docker-compose 1.29 disconnects and connects each
    /// new container this way to set its aliases. Another network, or a running container, is refused by name.
    /// </summary>
    public Task ConnectAsync(string networkReference, NetworkConnectRequest request) =>
        ChangeEndpointAsync(networkReference, request.Container, "connect", (record, network) =>
        {
            if (!IsOwnNetwork(record, network))
                throw ApiException.NotImplemented($"connecting container {record.Name.TrimStart('/')} to network {network.Name} is not implemented yet: a container is on the one network its --network names");
            if (!record.NetworkDisconnected)
                throw new ApiException(403, $"endpoint with name {record.Name.TrimStart('/')} already exists in network {network.Name}");
            try
            {
                ContainerValidator.CheckNetworking(new NetworkingConfig { EndpointsConfig = new() { [record.HostConfig.NetworkMode] = request.EndpointConfig } },
                    record.HostConfig.NetworkMode);
            }
            catch (ContainerConfigException e)
            {
                throw new ApiException(e.StatusCode, e.Message);
            }
            record.Endpoint = request.EndpointConfig;
            record.NetworkDisconnected = false;
        });

    /// <summary>POST /networks/{id}/disconnect for a container that is not running, from its own network (see <see cref="ConnectAsync"/>).</summary>
    public Task DisconnectAsync(string networkReference, NetworkDisconnectRequest request) =>
        ChangeEndpointAsync(networkReference, request.Container, "disconnect", (record, network) =>
        {
            if (!IsOwnNetwork(record, network) || record.NetworkDisconnected)
                throw new ApiException(403, $"container {record.Id} is not connected to network {network.Name}");
            record.Endpoint = null;
            record.NetworkDisconnected = true;
        });

    /// <summary>Connect's and disconnect's frame: the network and the container looked up, the change made under the
    /// container's lock and saved; a running container is refused.</summary>
    async Task ChangeEndpointAsync(string networkReference, string container, string verb, Action<ContainerRecordFile, NetworkRecord> change)
    {
        var network = Networks.Resolve(networkReference);
        var record = _store.Get(container);
        var gate = LockOf(record.Id);
        await gate.WaitAsync();
        try
        {
            if (record.Running)
                throw ApiException.NotImplemented($"docker network {verb} of a running container is not implemented yet: stop container {record.Name.TrimStart('/')} first");
            change(record, network);
            _store.Save(record);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Whether the network is the one the container's NetworkMode names.</summary>
    bool IsOwnNetwork(ContainerRecordFile record, NetworkRecord network)
    {
        if (!NamespaceMode.NamesUserNetwork(record.HostConfig.NetworkMode)) return false;
        try
        {
            return Networks.Resolve(record.HostConfig.NetworkMode).Id == network.Id;
        }
        catch (ApiException)
        {
            return false;
        }
    }

    /// <summary>POST /containers/{id}/rename?name=.</summary>
    public void Rename(string reference, string? newName)
    {
        if (string.IsNullOrEmpty(newName)) throw ApiException.BadRequest("Neither old nor new names may be empty");
        var record = _store.Get(reference);
        string name = ContainerNames.Normalize(newName);
        if (name == record.Name) throw ApiException.BadRequest($"Renaming a container with the same name as its current name");
        string oldName = record.Name;
        _store.Rename(record, name);
        Publish(record, "rename", new() { ["oldName"] = oldName });
    }

    /// <summary>POST /containers/prune: removes every stopped container; what was removed and the bytes of their layers.</summary>
    public async Task<ContainersPruneReport> PruneAsync()
    {
        var report = new ContainersPruneReport();
        foreach (var record in _store.List().Where(r => !r.Running))
        {
            long size = DirectorySize(Path.Combine(_store.DirOf(record.Id), "rw", "upper"));
            try
            {
                await RemoveAsync(record.Id, force: false, volumes: false);
            }
            catch (ApiException)
            {
                continue; // started or removed meanwhile
            }
            (report.ContainersDeleted ??= []).Add(record.Id);
            report.SpaceReclaimed += (ulong)size;
        }
        return report;
    }

    static long DirectorySize(string dir)
    {
        try
        {
            return Directory.Exists(dir) ? new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    // ---------------------------------------------------------------- views

    ContainerConfig? ImageConfigOf(ContainerRecordFile record)
    {
        try
        {
            return _images.ResolveForContainer(record.Image).Config;
        }
        catch (ApiException)
        {
            return null;
        }
    }

    static ContainerConfig SafeMerge(ContainerConfig config, ContainerConfig? image)
    {
        try
        {
            return ConfigMerge.Merge(config, image);
        }
        catch (ContainerConfigException)
        {
            return config;
        }
    }

    /// <summary>GET /containers/{id}/json.</summary>
    public ContainerInspect Inspect(string reference)
    {
        var record = _store.Get(reference);
        var merged = SafeMerge(record.Config, ImageConfigOf(record));
        return ContainerViews.Inspect(record, merged, _store.DirOf(record.Id), Volumes.Root);
    }

    /// <summary>GET /containers/json: all, limit and the filters as dockerd applies them (<see cref="ContainerListFilter"/>).</summary>
    /// <exception cref="ApiException">A filter dockerd refuses, with its message and status.</exception>
    public List<ContainerSummary> List(bool all, int limit, ApiFilters filters)
    {
        var records = _store.List().ToDictionary(r => r.Id, StringComparer.Ordinal);
        var entries = records.Values.Select(ListEntry).ToList();
        try
        {
            var filter = ContainerListFilter.Create(filters, all, limit,
                reference => _store.Find(reference) is { } r ? ListEntry(r) : null,
                reference => _images.TryResolveId(reference));
            return [.. filter.Apply(entries).Select(e => records[e.Id]).Select(r => ContainerViews.Summary(r, SafeMerge(r.Config, ImageConfigOf(r)), Volumes.Root))];
        }
        catch (ContainerListFilterException e)
        {
            throw new ApiException(e.StatusCode, e.Message, e);
        }
    }

    ContainerListEntry ListEntry(ContainerRecordFile record) => new(
        record.Id, [record.Name], record.ImageName, record.Image, SafeMerge(record.Config, ImageConfigOf(record)).Labels ?? [],
        record.State.Status, record.State.ExitCode, ContainerJson.ParseTime(record.Created), record.State.Health?.Status ?? "none",
        record.State.StartedAt == ContainerState.NeverTime ? null : ContainerJson.ParseTime(record.State.StartedAt),
        ContainerNetworks.Ids(record), UserMounts.MountPoints(record.HostConfig, Volumes.Root, record.AnonymousVolumes));

    /// <summary>
    /// Attach: the monitor's stream of a running container now; of a created or stopped one, once its next start has
    /// created it and before that start releases the init, so no output is missed.
    /// </summary>
    public (Task<Stream> Stream, bool Tty) Attach(string reference, bool stdin, bool stdout, bool stderr)
    {
        var record = _store.Get(reference);
        if (record.Running)
        {
            try
            {
                var stream = _runner.Monitor(record.Id).Attach(stdin, stdout, stderr);
                Publish(record, "attach");
                return (Task.FromResult(stream), record.Config.Tty);
            }
            catch (Exception e) when (e is ContainerRunnerException or ExecDrivers.MonitorException)
            {
                throw ApiException.Conflict($"cannot attach to container {record.Id}: {e.Message}");
            }
        }
        var pending = EventsOf(record.Id).AttachAtStart(stdin, stdout, stderr);
        Publish(record, "attach");
        return (pending, record.Config.Tty);
    }

    /// <summary>POST /containers/{id}/resize: the terminal's size; 409 when it is not running, as dockerd.</summary>
    public void Resize(string reference, int height, int width)
    {
        var record = _store.Get(reference);
        if (!record.Running) throw ApiException.Conflict($"Container {record.Id} is not running");
        try
        {
            _runner.Monitor(record.Id).Resize(width, height);
        }
        catch (Exception e) when (e is ContainerRunnerException or ExecDrivers.MonitorException)
        {
            throw new ApiException(500, $"cannot resize the terminal of container {record.Id}: {e.Message}", e);
        }
    }

    /// <summary>The container (for logs): its record.</summary>
    public ContainerRecordFile Get(string reference) => _store.Get(reference);
}

/// <summary>A container's exit and removal, for waiters: each exit completes the pending NextExit and arms a new one.</summary>
sealed class ContainerEvents
{
    readonly object _lock = new();
    TaskCompletionSource<int> _nextExit = New();
    readonly TaskCompletionSource<int> _removed = New();

    /// <summary>The running init's exit, state recorded (null when this berthd did not start it).</summary>
    public Task? Exited { get; set; }

    public Task<int> NextExit
    {
        get { lock (_lock) return _nextExit.Task; }
    }

    public Task<int> Removed => _removed.Task;

    public void SignalExit(int code)
    {
        TaskCompletionSource<int> done;
        lock (_lock)
        {
            done = _nextExit;
            _nextExit = New();
        }
        done.TrySetResult(code);
    }

    public void SignalRemoved(int code)
    {
        SignalExit(code);
        _removed.TrySetResult(code);
        FailPendingAttaches("the container was removed before it started");
    }

    /// <summary>Ends the attaches waiting for a start that will not come.</summary>
    public void FailPendingAttaches(string why)
    {
        List<PendingAttach> pending;
        lock (_lock)
        {
            pending = [.. _pendingAttaches];
            _pendingAttaches.Clear();
        }
        foreach (var p in pending) p.Done.TrySetException(new IOException(why));
    }

    sealed record PendingAttach(bool Stdin, bool Stdout, bool Stderr, TaskCompletionSource<Stream> Done);

    readonly List<PendingAttach> _pendingAttaches = [];

    /// <summary>An attach that the next start connects to the monitor before it releases the init.</summary>
    public Task<Stream> AttachAtStart(bool stdin, bool stdout, bool stderr)
    {
        var pending = new PendingAttach(stdin, stdout, stderr, new TaskCompletionSource<Stream>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_lock) _pendingAttaches.Add(pending);
        return pending.Done.Task;
    }

    /// <summary>Called by the start between creating the container and starting it.</summary>
    public void ConnectPendingAttaches(Berth.ExecDrivers.MonitorClient monitor)
    {
        List<PendingAttach> pending;
        lock (_lock)
        {
            pending = [.. _pendingAttaches];
            _pendingAttaches.Clear();
        }
        foreach (var p in pending)
        {
            try
            {
                p.Done.TrySetResult(monitor.Attach(p.Stdin, p.Stdout, p.Stderr));
            }
            catch (Berth.ExecDrivers.MonitorException e)
            {
                p.Done.TrySetException(e);
            }
        }
    }

    static TaskCompletionSource<int> New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
