namespace Berth.Api;

// Property names are Docker's wire names (the JSON context writes them as declared): keep their spelling,
// including the odd ones (ID, NCPU, MinAPIVersion), or the docker CLI reads zero values.

/// <summary>GET /version.</summary>
public sealed class SystemVersion
{
    public VersionPlatform Platform { get; set; } = new();
    public List<VersionComponent> Components { get; set; } = [];
    public string Version { get; set; } = "";
    public string ApiVersion { get; set; } = "";
    public string MinAPIVersion { get; set; } = "";
    public string GitCommit { get; set; } = "";
    public string GoVersion { get; set; } = "";
    public string Os { get; set; } = "";
    public string Arch { get; set; } = "";
    public string KernelVersion { get; set; } = "";
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Experimental { get; set; }
    public string BuildTime { get; set; } = "";
}

public sealed class VersionPlatform
{
    public string Name { get; set; } = "";
}

public sealed class VersionComponent
{
    public string Name { get; set; } = "";
    public string Version { get; set; } = "";
    public Dictionary<string, string>? Details { get; set; }
}

/// <summary>GET /info. Fields the docker CLI prints; it shows absent ones as zero values.</summary>
public sealed class SystemInfo
{
    public string ID { get; set; } = "";
    public int Containers { get; set; }
    public int ContainersRunning { get; set; }
    public int ContainersPaused { get; set; }
    public int ContainersStopped { get; set; }
    public int Images { get; set; }
    public string Driver { get; set; } = "";
    public List<string[]> DriverStatus { get; set; } = [];
    public PluginsInfo Plugins { get; set; } = new();
    public bool MemoryLimit { get; set; }
    public bool SwapLimit { get; set; }
    public bool CpuCfsPeriod { get; set; }
    public bool CpuCfsQuota { get; set; }
    public bool CPUShares { get; set; }
    public bool CPUSet { get; set; }
    public bool PidsLimit { get; set; }
    public bool IPv4Forwarding { get; set; }
    public bool BridgeNfIptables { get; set; }
    public bool BridgeNfIp6tables { get; set; }
    public bool Debug { get; set; }
    public int NFd { get; set; }
    public bool OomKillDisable { get; set; }
    public int NGoroutines { get; set; }
    public string SystemTime { get; set; } = "";
    public string LoggingDriver { get; set; } = "";
    public string CgroupDriver { get; set; } = "";
    public string CgroupVersion { get; set; } = "";
    public int NEventsListener { get; set; }
    public string KernelVersion { get; set; } = "";
    public string OperatingSystem { get; set; } = "";
    public string OSVersion { get; set; } = "";
    public string OSType { get; set; } = "";
    public string Architecture { get; set; } = "";
    public string IndexServerAddress { get; set; } = "";
    public RegistryConfig? RegistryConfig { get; set; }
    public int NCPU { get; set; }
    public long MemTotal { get; set; }
    public string DockerRootDir { get; set; } = "";
    public string HttpProxy { get; set; } = "";
    public string HttpsProxy { get; set; } = "";
    public string NoProxy { get; set; } = "";
    public string Name { get; set; } = "";
    public List<string> Labels { get; set; } = [];
    public bool ExperimentalBuild { get; set; }
    public string ServerVersion { get; set; } = "";
    public Dictionary<string, RuntimeInfo> Runtimes { get; set; } = [];
    public string DefaultRuntime { get; set; } = "";
    public SwarmInfo Swarm { get; set; } = new();
    public bool LiveRestoreEnabled { get; set; }
    public string Isolation { get; set; } = "";
    public string InitBinary { get; set; } = "";
    public CommitInfo ContainerdCommit { get; set; } = new();
    public CommitInfo RuncCommit { get; set; } = new();
    public CommitInfo InitCommit { get; set; } = new();
    public List<string> SecurityOptions { get; set; } = [];
    public List<string>? Warnings { get; set; }
}

public sealed class PluginsInfo
{
    public List<string> Volume { get; set; } = [];
    public List<string> Network { get; set; } = [];
    public List<string>? Authorization { get; set; }
    public List<string> Log { get; set; } = [];
}

public sealed class RegistryConfig
{
    public List<string> AllowNondistributableArtifactsCIDRs { get; set; } = [];
    public List<string> AllowNondistributableArtifactsHostnames { get; set; } = [];
    public List<string> InsecureRegistryCIDRs { get; set; } = [];
    public Dictionary<string, IndexInfo> IndexConfigs { get; set; } = [];
    public List<string> Mirrors { get; set; } = [];
}

public sealed class IndexInfo
{
    public string Name { get; set; } = "";
    public List<string> Mirrors { get; set; } = [];
    public bool Secure { get; set; }
    public bool Official { get; set; }
}

public sealed class RuntimeInfo
{
    [System.Text.Json.Serialization.JsonPropertyName("path")]
    public string Path { get; set; } = "";
}

public sealed class SwarmInfo
{
    public string NodeID { get; set; } = "";
    public string NodeAddr { get; set; } = "";
    public string LocalNodeState { get; set; } = "inactive";
    public bool ControlAvailable { get; set; }
    public string Error { get; set; } = "";
    public List<string>? RemoteManagers { get; set; }
}

public sealed class CommitInfo
{
    public string ID { get; set; } = "";
    public string Expected { get; set; } = "";
}
