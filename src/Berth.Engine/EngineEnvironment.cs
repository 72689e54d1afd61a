using Berth.Api;

namespace Berth.Engine;

/// <summary>The daemon's own settings that shape every container's spec (berthd's flags and their defaults).</summary>
public sealed record DaemonSettings
{
    /// <summary>dockerd's default /dev/shm size, 64 MiB.</summary>
    public const long DockerShmSize = 64L * 1024 * 1024;

    /// <summary>The data root; each container's files live in <c>&lt;data root&gt;/containers/&lt;id&gt;</c>.</summary>
    public required string DataRoot { get; init; }

    /// <summary>
    /// The init HostConfig.Init runs, bind-mounted read-only at <see cref="Populate.InitPathInContainer"/> as dockerd
    /// mounts its docker-init. Debian's tini package has two builds: /usr/bin/tini is dynamically linked and does not
    /// start in an image without glibc (busybox, alpine); tini-static does, and is what Debian's docker-init points to.
    /// </summary>
    public string InitBinary { get; init; } = "/usr/bin/tini-static";

    /// <summary>
    /// The cgroup every container's cgroup is made under (cgroupfs form: <c>&lt;parent&gt;/&lt;id&gt;</c>) unless
    /// HostConfig.CgroupParent names another. dockerd uses /docker; Berth keeps its containers apart from a dockerd
    /// on the same host.
    /// </summary>
    public string CgroupParent { get; init; } = "/berth";

    /// <summary>
    /// berthd runs without a bridge (as <c>dockerd -b none</c>): NetworkMode "default" and "bridge" give the container
    /// a network namespace with only its loopback. Until Berth has a bridge this is the only setting.
    /// </summary>
    public bool BridgeNone { get; init; } = true;

    /// <summary>/dev/shm's size when HostConfig.ShmSize is 0.</summary>
    public long DefaultShmSize { get; init; } = DockerShmSize;

    /// <summary>--default-ulimit: applied where HostConfig.Ulimits does not name the same limit.</summary>
    public IReadOnlyList<Ulimit> DefaultUlimits { get; init; } = [];

    /// <summary>Seconds between the stop signal and SIGKILL when neither the request nor the image says.</summary>
    public int DefaultStopTimeout { get; init; } = 10;

    public string ContainerDir(string id) => Path.Combine(DataRoot, "containers", id);

    /// <summary>Where named volumes keep their data: &lt;data-root&gt;/volumes/&lt;name&gt;/_data, as dockerd's local driver.</summary>
    public string VolumesRoot => Path.Combine(DataRoot, "volumes");
}

/// <summary>Facts about the host a spec depends on, read once by the daemon (kept out of the pure code).</summary>
public sealed record HostFacts
{
    /// <summary>The host's hostname: a container on the host's network takes it.</summary>
    public required string Hostname { get; init; }

    /// <summary>`uname -r`; the seccomp profile has rules for a minimum kernel.</summary>
    public required string KernelRelease { get; init; }

    /// <summary>Go's name of the architecture (amd64), as seccomp profiles name them.</summary>
    public string Architecture { get; init; } = "amd64";

    /// <summary>Online CPUs, for NanoCpus' range and CpusetCpus (the kernel's list form, "0-1").</summary>
    public required string OnlineCpus { get; init; }

    /// <summary>Memory nodes, for CpusetMems ("0").</summary>
    public string OnlineMems { get; init; } = "0";

    /// <summary>The host's /etc/resolv.conf: a container's copy is made from it.</summary>
    public string ResolvConf { get; init; } = "";

    /// <summary>The host's /etc/hosts: a container on the host's network gets a copy.</summary>
    public string Hosts { get; init; } = "";
}

/// <summary>The host's device nodes, for --device and --privileged (stat(2) of /dev is the daemon's job).</summary>
public interface IHostDevices
{
    /// <summary>The device node at a host path, or every device below it when it is a directory; empty when there is none.</summary>
    IReadOnlyList<HostDevice> At(string hostPath);

    /// <summary>Every device node of the host's /dev, as --privileged gives them (dockerd skips /dev/pts, /dev/shm, /dev/mqueue, /dev/console).</summary>
    IReadOnlyList<HostDevice> All();
}

/// <summary>A device node on the host: its path, 'c' or 'b', numbers, permission bits and owner.</summary>
public sealed record HostDevice(string Path, char Type, long Major, long Minor, uint FileMode, uint Uid, uint Gid);

/// <summary>Finds the containers a <c>container:&lt;name|id&gt;</c> mode refers to.</summary>
public interface IContainerResolver
{
    /// <summary>The container a name, full id or unique id prefix names, or null.</summary>
    JoinedContainer? Find(string reference);
}

/// <summary>
/// Another container whose namespaces or files a container joins: its init's pid on the host (0 when it is not
/// running), its hostname and domainname, its IPC mode, and where its /dev/shm and network files are.
/// </summary>
public sealed record JoinedContainer
{
    public required string Id { get; init; }
    public int Pid { get; init; }
    public bool Running => Pid > 0;
    public string Hostname { get; init; } = "";
    public string Domainname { get; init; } = "";
    /// <summary>Its HostConfig.IpcMode; only a "shareable" one can be joined.</summary>
    public string IpcMode { get; init; } = "";
    /// <summary>The tmpfs it shares as /dev/shm (&lt;its dir&gt;/mounts/shm).</summary>
    public required string ShmPath { get; init; }
    public required string ResolvConfPath { get; init; }
    public required string HostnamePath { get; init; }
    public required string HostsPath { get; init; }
}

/// <summary>Everything outside the container record that Populate reads: the daemon, the host, and the other containers.</summary>
public sealed record EngineEnvironment(DaemonSettings Daemon, HostFacts Host, IHostDevices Devices, IContainerResolver Containers);

/// <summary>
/// The container as berthd keeps it: the Config and HostConfig the client sent (not yet merged with the image's
/// config: Populate does that each time, so the record stays what the client asked for), and its mounted rootfs.
/// </summary>
public sealed record ContainerRecord(string Id, string Name, ContainerConfig Config, HostConfig HostConfig, string RootfsPath)
{
    /// <summary>On a user-defined network: the namespace the daemon made and joined to it, and the container's address there.</summary>
    public NetworkAttachment? Network { get; init; }
    /// <summary>The anonymous volumes the create made: destination → volume name (<see cref="UserMounts.AnonymousDestinations"/>).</summary>
    public IReadOnlyDictionary<string, string>? AnonymousVolumes { get; init; }
}

/// <summary>
/// A container's place on a user-defined network, made by the daemon before the start: the network namespace file the
/// spec joins, and the address its /etc/hosts gives its hostname. Name resolution goes to the daemon's embedded DNS
/// server at <see cref="SandboxFiles.EmbeddedDnsAddress"/> in that namespace.
/// </summary>
public sealed record NetworkAttachment(string NetnsPath, System.Net.IPAddress Address);
