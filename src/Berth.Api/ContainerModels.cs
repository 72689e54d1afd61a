using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api;

// Docker's container types (moby api/types/container, network, mount) with their wire names. Fields Go writes
// with omitempty carry WhenWritingNull here, so an inspect answer has dockerd 20.10's keys and no others; any
// field a newer client sends that is not modelled is skipped on read, as Go's decoder skips it.

/// <summary>
/// A container's configuration (moby's container.Config): the body of POST /containers/create without its host
/// part, the Config of a container or image inspect, and the "config" an image carries. Not sealed: the create
/// request is this plus HostConfig and NetworkingConfig at the same level.
/// </summary>
public class ContainerConfig
{
    public string Hostname { get; set; } = "";
    public string Domainname { get; set; } = "";
    public string User { get; set; } = "";
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public bool StdinOnce { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Cmd { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public HealthConfig? Healthcheck { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ArgsEscaped { get; set; }
    public string Image { get; set; } = "";
    public Dictionary<string, EmptyObject>? Volumes { get; set; }
    public string WorkingDir { get; set; } = "";
    public List<string>? Entrypoint { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? NetworkDisabled { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MacAddress { get; set; }
    public List<string>? OnBuild { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopSignal { get; set; }
    /// <summary>Seconds to wait after the stop signal before SIGKILL.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? StopTimeout { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Shell { get; set; }
}

/// <summary>A HEALTHCHECK: Test is ["NONE"], ["CMD", args...] or ["CMD-SHELL", command]; durations in nanoseconds.</summary>
public sealed class HealthConfig
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Test { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Interval { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Timeout { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartPeriod { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartInterval { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Retries { get; set; }
}

/// <summary>The body of POST /containers/create: a <see cref="ContainerConfig"/> with the host and network parts beside it.</summary>
public sealed class ContainerCreateRequest : ContainerConfig
{
    public HostConfig? HostConfig { get; set; }
    public NetworkingConfig? NetworkingConfig { get; set; }
}

/// <summary>The answer of POST /containers/create (201).</summary>
public sealed class ContainerCreateResponse
{
    public string Id { get; set; } = "";
    public List<string> Warnings { get; set; } = [];
}

/// <summary>What a container needs from the host (moby's container.HostConfig), as the docker CLI sends it and inspect shows it.</summary>
public sealed class HostConfig
{
    public List<string>? Binds { get; set; }
    public string ContainerIDFile { get; set; } = "";
    public LogConfig LogConfig { get; set; } = new();
    public string NetworkMode { get; set; } = "";
    public Dictionary<string, List<PortBinding>?>? PortBindings { get; set; }
    public RestartPolicy RestartPolicy { get; set; } = new();
    public bool AutoRemove { get; set; }
    public string VolumeDriver { get; set; } = "";
    public List<string>? VolumesFrom { get; set; }
    /// <summary>[height, width] of the terminal the client has.</summary>
    public uint[]? ConsoleSize { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Annotations { get; set; }
    public List<string>? CapAdd { get; set; }
    public List<string>? CapDrop { get; set; }
    public string CgroupnsMode { get; set; } = "";
    public List<string>? Dns { get; set; }
    public List<string>? DnsOptions { get; set; }
    public List<string>? DnsSearch { get; set; }
    public List<string>? ExtraHosts { get; set; }
    public List<string>? GroupAdd { get; set; }
    public string IpcMode { get; set; } = "";
    public string Cgroup { get; set; } = "";
    public List<string>? Links { get; set; }
    public int OomScoreAdj { get; set; }
    public string PidMode { get; set; } = "";
    public bool Privileged { get; set; }
    public bool PublishAllPorts { get; set; }
    public bool ReadonlyRootfs { get; set; }
    public List<string>? SecurityOpt { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? StorageOpt { get; set; }
    /// <summary>Mount point → tmpfs options ("rw,size=1m").</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Tmpfs { get; set; }
    public string UTSMode { get; set; } = "";
    public string UsernsMode { get; set; } = "";
    /// <summary>Bytes of /dev/shm; 0 means the daemon's default.</summary>
    public long ShmSize { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Sysctls { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Runtime { get; set; }
    public string Isolation { get; set; } = "";
    public long CpuShares { get; set; }
    public long Memory { get; set; }
    public long NanoCpus { get; set; }
    public string CgroupParent { get; set; } = "";
    public ushort BlkioWeight { get; set; }
    public List<WeightDevice>? BlkioWeightDevice { get; set; }
    public List<ThrottleDevice>? BlkioDeviceReadBps { get; set; }
    public List<ThrottleDevice>? BlkioDeviceWriteBps { get; set; }
    public List<ThrottleDevice>? BlkioDeviceReadIOps { get; set; }
    public List<ThrottleDevice>? BlkioDeviceWriteIOps { get; set; }
    public long CpuPeriod { get; set; }
    public long CpuQuota { get; set; }
    public long CpuRealtimePeriod { get; set; }
    public long CpuRealtimeRuntime { get; set; }
    public string CpusetCpus { get; set; } = "";
    public string CpusetMems { get; set; } = "";
    public List<DeviceMapping>? Devices { get; set; }
    public List<string>? DeviceCgroupRules { get; set; }
    public List<DeviceRequest>? DeviceRequests { get; set; }
    public long KernelMemory { get; set; }
    public long KernelMemoryTCP { get; set; }
    public long MemoryReservation { get; set; }
    /// <summary>Memory plus swap, in bytes; -1 is unlimited swap, 0 the daemon's default (twice Memory).</summary>
    public long MemorySwap { get; set; }
    /// <summary>0-100; null or -1 leaves the kernel's.</summary>
    public long? MemorySwappiness { get; set; }
    public bool? OomKillDisable { get; set; }
    /// <summary>null, 0 and -1 are unlimited.</summary>
    public long? PidsLimit { get; set; }
    public List<Ulimit>? Ulimits { get; set; }
    public long CpuCount { get; set; }
    public long CpuPercent { get; set; }
    public ulong IOMaximumIOps { get; set; }
    public ulong IOMaximumBandwidth { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<MountSpec>? Mounts { get; set; }
    public List<string>? MaskedPaths { get; set; }
    public List<string>? ReadonlyPaths { get; set; }
    /// <summary>Run an init (tini) as PID 1 that reaps zombies and forwards signals.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Init { get; set; }
}

public sealed class LogConfig
{
    public string Type { get; set; } = "";
    public Dictionary<string, string>? Config { get; set; }
}

/// <summary>Name is "", "no", "always", "unless-stopped" or "on-failure".</summary>
public sealed class RestartPolicy
{
    public string Name { get; set; } = "";
    public int MaximumRetryCount { get; set; }
}

public sealed class PortBinding
{
    public string HostIp { get; set; } = "";
    public string HostPort { get; set; } = "";
}

public sealed class WeightDevice
{
    public string Path { get; set; } = "";
    public ushort Weight { get; set; }
}

public sealed class ThrottleDevice
{
    public string Path { get; set; } = "";
    public ulong Rate { get; set; }
}

/// <summary>One --device: a host device node made in the container, with its cgroup permissions ("rwm").</summary>
public sealed class DeviceMapping
{
    public string PathOnHost { get; set; } = "";
    public string PathInContainer { get; set; } = "";
    public string CgroupPermissions { get; set; } = "";
}

/// <summary>A --gpus request; only its presence matters to Berth, which has no device drivers.</summary>
public sealed class DeviceRequest
{
    public string Driver { get; set; } = "";
    public int Count { get; set; }
    public List<string>? DeviceIDs { get; set; }
    public List<List<string>>? Capabilities { get; set; }
    public Dictionary<string, string>? Options { get; set; }
}

/// <summary>One --ulimit; -1 is unlimited.</summary>
public sealed class Ulimit
{
    public string Name { get; set; } = "";
    public long Hard { get; set; }
    public long Soft { get; set; }
}

/// <summary>One --mount (HostConfig.Mounts); the per-type options are kept as JSON, Berth reads only what it needs.</summary>
/// <summary>One --mount (HostConfig.Mounts); empty fields are left out, as Go's omitempty does in dockerd's inspect.</summary>
public sealed class MountSpec
{
    public string Type { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Source { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Target { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ReadOnly { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Consistency { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? BindOptions { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? VolumeOptions { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? TmpfsOptions { get; set; }
}

/// <summary>The networks a created container joins, keyed by network name.</summary>
public sealed class NetworkingConfig
{
    public Dictionary<string, EndpointSettings?>? EndpointsConfig { get; set; }
}

/// <summary>A container's endpoint on one network: what the client asks for at create, what inspect reports.</summary>
public sealed class EndpointSettings
{
    public EndpointIpamConfig? IPAMConfig { get; set; }
    public List<string>? Links { get; set; }
    public List<string>? Aliases { get; set; }
    public string NetworkID { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string Gateway { get; set; } = "";
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string IPv6Gateway { get; set; } = "";
    public string GlobalIPv6Address { get; set; } = "";
    public int GlobalIPv6PrefixLen { get; set; }
    public string MacAddress { get; set; } = "";
    public Dictionary<string, string>? DriverOpts { get; set; }
    // Sent by API 1.44+ clients (the docker 28 CLI sends them at every version); dockerd 20.10 has neither.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? GwPriority { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? DNSNames { get; set; }
}

public sealed class EndpointIpamConfig
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IPv4Address { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IPv6Address { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? LinkLocalIPs { get; set; }
}

/// <summary>GET /containers/{id}/json (moby's ContainerJSON at API 1.41).</summary>
public sealed class ContainerInspect
{
    public string Id { get; set; } = "";
    /// <summary>RFC 3339 with nanoseconds.</summary>
    public string Created { get; set; } = "";
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = [];
    public ContainerState State { get; set; } = new();
    /// <summary>The image id ("sha256:...").</summary>
    public string Image { get; set; } = "";
    public string ResolvConfPath { get; set; } = "";
    public string HostnamePath { get; set; } = "";
    public string HostsPath { get; set; } = "";
    public string LogPath { get; set; } = "";
    /// <summary>The name with its leading slash ("/web").</summary>
    public string Name { get; set; } = "";
    public int RestartCount { get; set; }
    public string Driver { get; set; } = "";
    public string Platform { get; set; } = "linux";
    public string MountLabel { get; set; } = "";
    public string ProcessLabel { get; set; } = "";
    public string AppArmorProfile { get; set; } = "";
    public List<string>? ExecIDs { get; set; }
    public HostConfig HostConfig { get; set; } = new();
    public GraphDriverData GraphDriver { get; set; } = new();
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? SizeRw { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? SizeRootFs { get; set; }
    public List<MountPoint> Mounts { get; set; } = [];
    public ContainerConfig Config { get; set; } = new();
    public NetworkSettings NetworkSettings { get; set; } = new();
}

/// <summary>A container's run state. Times are RFC 3339 with nanoseconds; "0001-01-01T00:00:00Z" when it never happened.</summary>
public sealed class ContainerState
{
    public const string NeverTime = "0001-01-01T00:00:00Z";

    /// <summary>"created", "running", "paused", "restarting", "removing", "exited" or "dead".</summary>
    public string Status { get; set; } = "created";
    public bool Running { get; set; }
    public bool Paused { get; set; }
    public bool Restarting { get; set; }
    public bool OOMKilled { get; set; }
    public bool Dead { get; set; }
    public int Pid { get; set; }
    public int ExitCode { get; set; }
    public string Error { get; set; } = "";
    public string StartedAt { get; set; } = NeverTime;
    public string FinishedAt { get; set; } = NeverTime;
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ContainerHealth? Health { get; set; }
}

public sealed class ContainerHealth
{
    /// <summary>"starting", "healthy" or "unhealthy".</summary>
    public string Status { get; set; } = "";
    public int FailingStreak { get; set; }
    public List<HealthcheckResult>? Log { get; set; }
}

public sealed class HealthcheckResult
{
    public string Start { get; set; } = "";
    public string End { get; set; } = "";
    public int ExitCode { get; set; }
    public string Output { get; set; } = "";
}

/// <summary>One entry of an inspect's Mounts.</summary>
public sealed class MountPoint
{
    public string Type { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; set; }
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Driver { get; set; }
    public string Mode { get; set; } = "";
    public bool RW { get; set; }
    public string Propagation { get; set; } = "";
}

public sealed class NetworkSettings
{
    public string Bridge { get; set; } = "";
    public string SandboxID { get; set; } = "";
    public bool HairpinMode { get; set; }
    public string LinkLocalIPv6Address { get; set; } = "";
    public int LinkLocalIPv6PrefixLen { get; set; }
    /// <summary>"80/tcp" → its host bindings (null when exposed but not published).</summary>
    public Dictionary<string, List<PortBinding>?> Ports { get; set; } = [];
    public string SandboxKey { get; set; } = "";
    public List<NetworkAddress>? SecondaryIPAddresses { get; set; }
    public List<NetworkAddress>? SecondaryIPv6Addresses { get; set; }
    public string EndpointID { get; set; } = "";
    public string Gateway { get; set; } = "";
    public string GlobalIPv6Address { get; set; } = "";
    public int GlobalIPv6PrefixLen { get; set; }
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string IPv6Gateway { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public Dictionary<string, EndpointSettings> Networks { get; set; } = [];
}

public sealed class NetworkAddress
{
    public string Addr { get; set; } = "";
    public int PrefixLen { get; set; }
}
