using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api;

// The bodies of the container operations other than create and inspect (moby api/types at API 1.41), as the
// docker CLI reads and writes them.

/// <summary>One entry of GET /containers/json.</summary>
public sealed class ContainerSummary
{
    public string Id { get; set; } = "";
    public List<string> Names { get; set; } = [];
    public string Image { get; set; } = "";
    public string ImageID { get; set; } = "";
    public string Command { get; set; } = "";
    /// <summary>Unix seconds.</summary>
    public long Created { get; set; }
    public List<ContainerPort> Ports { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long SizeRw { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long SizeRootFs { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    /// <summary>"created", "running", "paused", "restarting", "removing", "exited" or "dead".</summary>
    public string State { get; set; } = "";
    /// <summary>The daemon's human text: "Up 4 seconds", "Exited (137) 3 seconds ago".</summary>
    public string Status { get; set; } = "";
    public SummaryHostConfig? HostConfig { get; set; }
    public SummaryNetworkSettings? NetworkSettings { get; set; }
    public List<MountPoint>? Mounts { get; set; }
}

public sealed class SummaryHostConfig
{
    public string NetworkMode { get; set; } = "";
}

public sealed class SummaryNetworkSettings
{
    public Dictionary<string, EndpointSettings?>? Networks { get; set; }
}

/// <summary>A port of a listed container: exposed (PrivatePort) and, when published, where (IP, PublicPort).</summary>
public sealed class ContainerPort
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IP { get; set; }
    public int PrivatePort { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int PublicPort { get; set; }
    public string Type { get; set; } = "";
}

/// <summary>The body of POST /containers/{id}/wait once the condition is met.</summary>
public sealed class ContainerWaitResponse
{
    public long StatusCode { get; set; }
    public WaitError? Error { get; set; }
}

public sealed class WaitError
{
    public string Message { get; set; } = "";
}

/// <summary>POST /containers/{id}/exec.</summary>
public sealed class ExecCreateRequest
{
    public string User { get; set; } = "";
    public bool Privileged { get; set; }
    public bool Tty { get; set; }
    public bool AttachStdin { get; set; }
    public bool AttachStderr { get; set; }
    public bool AttachStdout { get; set; }
    public bool Detach { get; set; }
    public string DetachKeys { get; set; } = "";
    public List<string>? Env { get; set; }
    public string WorkingDir { get; set; } = "";
    public List<string> Cmd { get; set; } = [];
}

/// <summary>The answer of exec create (and of container create's shape): an id.</summary>
public sealed class IdResponse
{
    public string Id { get; set; } = "";
}

/// <summary>POST /exec/{id}/start.</summary>
public sealed class ExecStartRequest
{
    public bool Detach { get; set; }
    public bool Tty { get; set; }
}

/// <summary>GET /exec/{id}/json.</summary>
public sealed class ExecInspect
{
    public string ID { get; set; } = "";
    public bool Running { get; set; }
    public int? ExitCode { get; set; }
    public bool OpenStdin { get; set; }
    public bool OpenStderr { get; set; }
    public bool OpenStdout { get; set; }
    public string ContainerID { get; set; } = "";
    public int Pid { get; set; }
    public ExecProcessConfig? ProcessConfig { get; set; }
}

public sealed class ExecProcessConfig
{
    [JsonPropertyName("tty")]
    public bool Tty { get; set; }
    [JsonPropertyName("entrypoint")]
    public string Entrypoint { get; set; } = "";
    [JsonPropertyName("arguments")]
    public List<string>? Arguments { get; set; }
    [JsonPropertyName("privileged")]
    public bool Privileged { get; set; }
    [JsonPropertyName("user")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? User { get; set; }
}

/// <summary>POST /containers/prune.</summary>
public sealed class ContainersPruneResponse
{
    public List<string>? ContainersDeleted { get; set; }
    public ulong SpaceReclaimed { get; set; }
}

/// <summary>POST /containers/{id}/update: the resources <c>docker update</c> changes, and the restart policy.</summary>
public sealed class ContainerUpdateRequest
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long CpuShares { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Memory { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long NanoCpus { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long CpuPeriod { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long CpuQuota { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CpusetCpus { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CpusetMems { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long MemoryReservation { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long MemorySwap { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ushort BlkioWeight { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? PidsLimit { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RestartPolicy? RestartPolicy { get; set; }
}

public sealed class ContainerUpdateResponse
{
    public List<string>? Warnings { get; set; }
}

/// <summary>What <c>docker inspect</c> probes: whichever kind answers, kept as raw JSON for -f and printing.</summary>
public sealed record InspectedObject(string Kind, JsonElement Json);
