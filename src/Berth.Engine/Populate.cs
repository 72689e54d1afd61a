using Berth.Api;
using Berth.Oci;
using OciUser = Berth.Oci.User;

namespace Berth.Engine;

/// <summary>
/// What the daemon hands the exec driver to start a container (the seed's <c>Command</c>): the OCI spec, and what
/// must exist on the host before the runtime reads it.
/// </summary>
public sealed class Command
{
    public required Spec Spec { get; init; }
    /// <summary>For the create answer's Warnings.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>The signal `stop` sends first ("SIGTERM" unless the request or image says).</summary>
    public required string StopSignal { get; init; }
    /// <summary>Seconds `stop` waits before SIGKILL; -1 waits without limit.</summary>
    public required int StopTimeout { get; init; }
    /// <summary>hostname, hosts and resolv.conf to write into the container's directory (none when it shares another's network).</summary>
    public required IReadOnlyList<ContainerFile> Files { get; init; }
    /// <summary>With IpcMode shareable: the tmpfs to mount on the host before start, bound as the container's /dev/shm.</summary>
    public SharedShm? SharedShm { get; init; }
    /// <summary>The working directory to create in the rootfs when it is missing (dockerd creates it), null for "/".</summary>
    public string? WorkingDir { get; init; }
    /// <summary>The binds, tmpfs and volumes of Binds and Mounts, parsed: the daemon makes -v's missing sources and fills
    /// new volumes from them before the runtime mounts them (as dockerd does).</summary>
    public IReadOnlyList<UserMount> UserMounts { get; init; } = [];
}

/// <summary>A file of the container's directory and its content.</summary>
public sealed record ContainerFile(string Path, string Content);

/// <summary>A tmpfs (mode 1777) of <paramref name="Size"/> bytes to mount at <paramref name="Path"/>.</summary>
public sealed record SharedShm(string Path, long Size);

/// <summary>
/// The seed's <c>populateCommand</c>: a container record, its image's config, the user from its passwd and
/// group, the daemon's settings and the containers it joins → the OCI spec with Docker's defaults (capabilities,
/// masked and read-only paths, seccomp profile, /dev/shm, the /etc files, namespaces, resources), field for field
/// what dockerd 20.10 writes except where src/Berth.Engine/README.md says why not. Pure: it reads nothing but its
/// arguments.
/// </summary>
public static class Populate
{
    /// <summary>Where HostConfig.Init's binary appears in the container, as dockerd mounts docker-init.</summary>
    public const string InitPathInContainer = "/sbin/docker-init";

    /// <summary>dockerd's PATH when the image sets none.</summary>
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static readonly IReadOnlyList<string> DefaultMaskedPaths =
    [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ];

    public static readonly IReadOnlyList<string> DefaultReadonlyPaths =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>Builds the container's <see cref="Command"/>.</summary>
    /// <param name="container">The record: the Config and HostConfig the client sent, and the rootfs.</param>
    /// <param name="imageConfig">The image's config (its Env, Cmd, Entrypoint, User, WorkingDir, StopSignal...).</param>
    /// <param name="users">The rootfs's /etc/passwd and /etc/group, for Config.User and HostConfig.GroupAdd.</param>
    /// <param name="environment">The daemon's settings, host facts and devices, and the other containers.</param>
    /// <exception cref="ContainerConfigException">A field is refused, or a container it joins does not exist or run.</exception>
    public static Command Command(ContainerRecord container, ContainerConfig? imageConfig, IUserDatabase users, EngineEnvironment environment)
    {
        var (config, host, warnings) = ContainerValidator.Validate(container.Config, imageConfig, container.HostConfig, null, environment);
        var daemon = environment.Daemon;
        var modes = ContainerValidator.ParseModes(host, daemon);
        var userMounts = Engine.UserMounts.Parse(host, _ => true, daemon.VolumesRoot, container.AnonymousVolumes);
        var ipcTarget = Joined(modes.Ipc, environment.Containers, "IPC");
        var pidTarget = Joined(modes.Pid, environment.Containers, "PID");
        var netTarget = Joined(modes.Network, environment.Containers, "network");

        var shortId = container.Id.Length > 12 ? container.Id[..12] : container.Id;
        var hostname = netTarget?.Hostname
            ?? (config.Hostname.Length > 0 ? config.Hostname : modes.Network.IsHost ? environment.Host.Hostname : shortId);
        var domainname = netTarget?.Domainname ?? config.Domainname;
        var security = SecurityOptions.Parse(host.SecurityOpt);
        var caps = Capabilities.Tweak(host.CapAdd, host.CapDrop, host.Privileged);
        var user = ExecUserResolver.Resolve(config.User, host.GroupAdd, users);
        var (path, args) = ConfigMerge.EntrypointAndArgs(config);
        // dockerd runs the init only where it can be PID 1: in the container's own PID namespace.
        var init = host.Init == true && modes.Pid.Sharing == NamespaceSharing.Private;
        var cwd = config.WorkingDir.Length > 0 ? CleanPath(config.WorkingDir) : "/";
        var containerDir = daemon.ContainerDir(container.Id);

        var spec = new Spec
        {
            OciVersion = SpecVersion.Current,
            Process = new Process
            {
                Terminal = config.Tty,
                ConsoleSize = config.Tty && host.ConsoleSize is [> 0 and var height, > 0 and var width] ? new Box { Height = height, Width = width } : null,
                User = new OciUser { Uid = user.Uid, Gid = user.Gid, AdditionalGids = [.. user.AdditionalGids] },
                Args = init ? [InitPathInContainer, "--", path, .. args] : [path, .. args],
                Env = ConfigMerge.ReplaceOrAppendEnv(config.Tty ? [DefaultPath, "HOSTNAME=" + hostname, "TERM=xterm"] : [DefaultPath, "HOSTNAME=" + hostname], config.Env),
                Cwd = cwd,
                Capabilities = ProcessCapabilities(caps, user.Uid),
                Rlimits = Rlimits(host.Ulimits, daemon.DefaultUlimits),
                NoNewPrivileges = security.NoNewPrivileges,
                OomScoreAdj = host.OomScoreAdj,
            },
            Root = new Root { Path = container.RootfsPath, Readonly = host.ReadonlyRootfs },
            Hostname = modes.Uts.IsHost ? null : hostname,
            Mounts = Mounts(host, userMounts, modes, init, daemon, containerDir, ipcTarget, netTarget),
            Linux = new Linux
            {
                CgroupsPath = CgroupsPath(host.CgroupParent.Length > 0 ? host.CgroupParent : daemon.CgroupParent, container.Id),
                MaskedPaths = host.Privileged || security.SystemPathsUnconfined ? null : [.. host.MaskedPaths ?? DefaultMaskedPaths],
                ReadonlyPaths = host.Privileged || security.SystemPathsUnconfined ? null : [.. host.ReadonlyPaths ?? DefaultReadonlyPaths],
                Namespaces = Namespaces(modes, host.CgroupnsMode, ipcTarget, pidTarget, netTarget, container.Network),
                Resources = Resources(host),
                Sysctl = Sysctls(host, modes, domainname),
                Seccomp = host.Privileged || security.SeccompUnconfined ? null : DockerSeccomp.Resolve(
                    security.SeccompProfileJson is { } json ? DockerSeccomp.Parse(json) : DockerSeccomp.Default(),
                    caps, environment.Host.Architecture, environment.Host.KernelRelease),
            },
        };
        AddDevices(spec.Linux, host, environment.Devices);

        return new Command
        {
            Spec = spec,
            Warnings = warnings,
            StopSignal = string.IsNullOrEmpty(config.StopSignal) ? "SIGTERM" : config.StopSignal,
            StopTimeout = config.StopTimeout ?? daemon.DefaultStopTimeout,
            Files = netTarget is null ? SandboxFiles.For(containerDir, hostname, domainname, modes.Network.IsHost, container.Network, environment.Host) : [],
            SharedShm = modes.Ipc.Value == "shareable" ? new SharedShm(ShmPath(containerDir), ShmSize(host, daemon)) : null,
            WorkingDir = cwd == "/" ? null : cwd,
            UserMounts = userMounts,
        };
    }

    /// <summary>&lt;container dir&gt;/mounts/shm: where a shareable container's /dev/shm tmpfs is mounted on the host.</summary>
    public static string ShmPath(string containerDir) => Path.Combine(containerDir, "mounts", "shm");

    /// <summary>The container a container:&lt;x&gt; mode joins, which must run (and for IPC, share its IPC).</summary>
    static JoinedContainer? Joined(NamespaceMode mode, IContainerResolver containers, string kind)
    {
        if (!mode.IsContainer) return null;
        var target = containers.Find(mode.ContainerReference) ?? throw ContainerConfigException.NoSuchContainer(mode.ContainerReference);
        var (notRunning, notShareable) = kind switch
        {
            "IPC" => ($"can't join IPC of container {target.Id}: container {target.Id} is not running",
                      target.IpcMode != "shareable" ? $"can't join IPC of container {target.Id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)" : null),
            "network" => ($"cannot join network of a non running container: {target.Id}", null),
            _ => ($"container {target.Id} is not running", (string?)null),
        };
        if (!target.Running) throw new ContainerConfigException(notRunning);
        if (notShareable is not null) throw new ContainerConfigException(notShareable);
        return target;
    }

    /// <summary>Root gets the set as bounding, effective and permitted; another user only the bounding set (dockerd's rule).</summary>
    static LinuxCapabilities ProcessCapabilities(List<string> caps, uint uid)
    {
        if (caps.Count == 0) return new LinuxCapabilities();
        return new LinuxCapabilities
        {
            Bounding = [.. caps],
            Effective = uid == 0 ? [.. caps] : null,
            Permitted = uid == 0 ? [.. caps] : null,
        };
    }

    /// <summary>HostConfig.Ulimits, then the daemon's defaults for the limits they do not name. None: the process inherits the runtime's.</summary>
    static List<PosixRlimit>? Rlimits(List<Ulimit>? requested, IReadOnlyList<Ulimit> defaults)
    {
        var named = (requested ?? []).Select(u => u.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var all = (requested ?? []).Concat(defaults.Where(d => !named.Contains(d.Name))).Select(Ulimits.ToRlimit).ToList();
        return all.Count > 0 ? all : null;
    }

    /// <summary>cgroupfs form, as filepath.Join builds it: "/berth" + id → "/berth/&lt;id&gt;".</summary>
    static string CgroupsPath(string parent, string id) => parent.TrimEnd('/') + "/" + id;

    /// <summary>
    /// The default mounts (less /dev/shm when the IPC mode has its own, and less any a user mount replaces), the
    /// init binary, then the user's mounts sorted parents first: binds and --mount, the /etc files, the shared /dev/shm,
    /// the tmpfs.
    /// </summary>
    static List<Mount> Mounts(HostConfig host, IReadOnlyList<UserMount> userMounts, ContainerValidator.Modes modes, bool init, DaemonSettings daemon, string containerDir,
        JoinedContainer? ipcTarget, JoinedContainer? netTarget)
    {
        var readOnly = host.ReadonlyRootfs;
        // Binds and --mount first (dockerd's mount points), then its own /etc files and /dev/shm, then --tmpfs.
        List<Mount> user = [.. userMounts.Select(m => m.ToSpec())];
        var tmpfs = (host.Tmpfs ?? []).OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new Mount { Destination = CleanPath(t.Key), Type = "tmpfs", Source = "tmpfs", Options = TmpfsOptions.Merge(t.Key, t.Value) })
            .ToList();
        var taken = tmpfs.Concat(user).Select(m => m.Destination).ToHashSet(StringComparer.Ordinal);

        string resolvConf = netTarget?.ResolvConfPath ?? Path.Combine(containerDir, "resolv.conf");
        string hostnameFile = netTarget?.HostnamePath ?? Path.Combine(containerDir, "hostname");
        string hosts = netTarget?.HostsPath ?? Path.Combine(containerDir, "hosts");
        foreach (var (destination, source) in new[] { ("/etc/resolv.conf", resolvConf), ("/etc/hostname", hostnameFile), ("/etc/hosts", hosts) })
            if (!taken.Contains(destination))
                user.Add(Bind(destination, source, readOnly ? ["rbind", "ro", "rprivate"] : ["rbind", "rprivate"]));

        string? sharedShm = modes.Ipc switch
        {
            { Sharing: NamespaceSharing.Host } => "/dev/shm",
            { Sharing: NamespaceSharing.Container } => ipcTarget!.ShmPath,
            { Value: "shareable" } => ShmPath(containerDir),
            _ => null,
        };
        if (sharedShm is not null && !taken.Contains("/dev/shm")) user.Add(Bind("/dev/shm", sharedShm, ["rbind", "rprivate"]));
        user.AddRange(tmpfs);

        var userDestinations = user.Select(m => m.Destination).ToHashSet(StringComparer.Ordinal);
        var replacesDev = userDestinations.Contains("/dev");
        var mounts = DefaultMounts(host.Privileged, modes.Ipc.Value == "private" ? ShmSize(host, daemon) : null)
            .Where(m => !userDestinations.Contains(m.Destination) && !(replacesDev && m.Destination.StartsWith("/dev/", StringComparison.Ordinal)))
            .ToList();
        if (init) mounts.Add(Bind(InitPathInContainer, daemon.InitBinary, ["bind", "ro"]));
        // Parents before children; equal depths keep their order (dockerd sorts by depth, and its sort is stable for so few).
        mounts.AddRange(user.OrderBy(m => m.Destination.Count(c => c == '/')));
        return mounts;
    }

    static Mount Bind(string destination, string source, List<string> options) =>
        new() { Destination = destination, Type = "bind", Source = source, Options = options };

    /// <summary>dockerd's defaults; --privileged makes /sys and /sys/fs/cgroup writable; /dev/shm only for a private IPC mode.</summary>
    static IEnumerable<Mount> DefaultMounts(bool privileged, long? shmSize)
    {
        yield return new() { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] };
        yield return new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] };
        yield return new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] };
        yield return new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = privileged ? ["nosuid", "noexec", "nodev"] : ["nosuid", "noexec", "nodev", "ro"] };
        yield return new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = privileged ? ["nosuid", "noexec", "nodev"] : ["ro", "nosuid", "noexec", "nodev"] };
        yield return new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] };
        if (shmSize is { } size)
            yield return new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", $"size={size}"] };
    }

    static long ShmSize(HostConfig host, DaemonSettings daemon) => host.ShmSize > 0 ? host.ShmSize : daemon.DefaultShmSize;

    /// <summary>mount, network, uts, pid, ipc (dockerd's order), then cgroup; a host mode leaves its entry out.</summary>
    static List<LinuxNamespace> Namespaces(ContainerValidator.Modes modes, string cgroupnsMode,
        JoinedContainer? ipcTarget, JoinedContainer? pidTarget, JoinedContainer? netTarget, NetworkAttachment? network)
    {
        if (modes.Network.IsUserNetwork && network is null)
            throw new ContainerConfigException($"the container is on network {modes.Network.Value} but no namespace of that network was made for it");
        List<LinuxNamespace> namespaces = [new() { Type = "mount" }];
        // The host's network is the absence of a network namespace: no bind of the host's namespace to keep (dockerd joins one).
        if (!modes.Network.IsHost) namespaces.Add(new() { Type = "network", Path = network?.NetnsPath ?? NsPath(netTarget, "net") });
        if (!modes.Uts.IsHost) namespaces.Add(new() { Type = "uts" });
        if (!modes.Pid.IsHost) namespaces.Add(new() { Type = "pid", Path = NsPath(pidTarget, "pid") });
        if (!modes.Ipc.IsHost) namespaces.Add(new() { Type = "ipc", Path = NsPath(ipcTarget, "ipc") });
        if (cgroupnsMode == "private") namespaces.Add(new() { Type = "cgroup" });
        return namespaces;
    }

    static string? NsPath(JoinedContainer? target, string kind) => target is null ? null : $"/proc/{target.Pid}/ns/{kind}";

    /// <summary>The cgroup limits of a HostConfig (docker update applies them to a running container too).</summary>
    public static LinuxResources Resources(HostConfig host)
    {
        long? quota = null, period = null;
        if (host.NanoCpus > 0) (period, quota) = (100_000, host.NanoCpus * 100_000 / 1_000_000_000);
        else
        {
            if (host.CpuPeriod != 0) period = host.CpuPeriod;
            if (host.CpuQuota != 0) quota = host.CpuQuota;
        }
        long? swap = host.MemorySwap switch
        {
            > 0 => host.MemorySwap,
            0 when host.Memory > 0 => host.Memory * 2, // dockerd's default where the kernel accounts swap
            _ => null,
        };
        return new LinuxResources
        {
            BlockIO = new LinuxBlockIo { Weight = host.BlkioWeight },
            Cpu = new LinuxCpu
            {
                Shares = (ulong)host.CpuShares,
                Quota = quota,
                Period = period is { } p ? (ulong)p : null,
                Cpus = host.CpusetCpus.Length > 0 ? host.CpusetCpus : null,
                Mems = host.CpusetMems.Length > 0 ? host.CpusetMems : null,
            },
            Devices = DefaultDeviceRules(),
            Memory = new LinuxMemory
            {
                Limit = host.Memory > 0 ? host.Memory : null,
                Reservation = host.MemoryReservation > 0 ? host.MemoryReservation : null,
                Swap = swap,
                Swappiness = host.MemorySwappiness is >= 0 and var s ? (ulong)s : null,
                DisableOOMKiller = host.OomKillDisable ?? false,
            },
            Pids = host.PidsLimit > 0 ? new LinuxPids { Limit = host.PidsLimit.Value } : null,
        };
    }

    /// <summary>Deny all; allow null, zero, full... as dockerd lists them (runc makes these nodes); deny fuse.</summary>
    static List<LinuxDeviceCgroup> DefaultDeviceRules()
    {
        static LinuxDeviceCgroup Char(long major, long minor, bool allow = true) =>
            new() { Allow = allow, Type = "c", Major = major, Minor = minor, Access = "rwm" };
        return
        [
            new() { Allow = false, Access = "rwm" },
            Char(1, 5), Char(1, 3), Char(1, 9), Char(1, 8), Char(5, 0), Char(5, 1),
            Char(10, 229, allow: false),
        ];
    }

    /// <summary>--device nodes and rules; --privileged: every host device and one allow-all rule (DeviceCgroupRules then do nothing).</summary>
    static void AddDevices(Linux linux, HostConfig host, IHostDevices hostDevices)
    {
        List<LinuxDevice> devices = [];
        if (host.Privileged) devices.AddRange(hostDevices.All().Select(d => Node(d, d.Path)));
        foreach (var mapping in host.Devices ?? [])
        {
            var found = hostDevices.At(mapping.PathOnHost);
            if (found.Count == 0)
                throw new ContainerConfigException($"error gathering device information while adding custom device \"{mapping.PathOnHost}\": no such file or directory");
            var inContainer = mapping.PathInContainer.Length > 0 ? mapping.PathInContainer : mapping.PathOnHost;
            var access = host.Privileged || mapping.CgroupPermissions.Length == 0 ? "rwm" : mapping.CgroupPermissions;
            foreach (var device in found)
            {
                var path = device.Path == mapping.PathOnHost ? inContainer : inContainer.TrimEnd('/') + device.Path[mapping.PathOnHost.TrimEnd('/').Length..];
                devices.Add(Node(device, path));
                if (!host.Privileged)
                    linux.Resources!.Devices!.Add(new() { Allow = true, Type = device.Type.ToString(), Major = device.Major, Minor = device.Minor, Access = access });
            }
        }
        if (host.Privileged) linux.Resources!.Devices = [new() { Allow = true, Access = "rwm" }];
        else linux.Resources!.Devices!.AddRange((host.DeviceCgroupRules ?? []).Select(DeviceCgroupRules.Parse));
        linux.Devices = devices.Count > 0 ? devices : null;
    }

    static LinuxDevice Node(HostDevice d, string path) =>
        new() { Path = path, Type = d.Type.ToString(), Major = d.Major, Minor = d.Minor, FileMode = d.FileMode, Uid = d.Uid, Gid = d.Gid };

    /// <summary>
    /// With its own network namespace the container may bind low ports and ping as any user (dockerd sets both);
    /// then HostConfig.Sysctls, and the domainname in the container's own UTS namespace.
    /// </summary>
    static Dictionary<string, string>? Sysctls(HostConfig host, ContainerValidator.Modes modes, string domainname)
    {
        var sysctls = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (modes.Network.Sharing == NamespaceSharing.Private)
        {
            sysctls["net.ipv4.ip_unprivileged_port_start"] = "0";
            sysctls["net.ipv4.ping_group_range"] = "0 2147483647";
        }
        foreach (var (key, value) in host.Sysctls ?? []) sysctls[key] = value;
        if (domainname.Length > 0 && !modes.Uts.IsHost) sysctls["kernel.domainname"] = domainname;
        return sysctls.Count > 0 ? new Dictionary<string, string>(sysctls) : null;
    }

    /// <summary>Collapses "//", "/./" and a trailing "/" as Go's filepath.Clean does for an absolute path.</summary>
    internal static string CleanPath(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }
}
