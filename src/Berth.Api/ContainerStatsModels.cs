using System.Text.Json.Serialization;

namespace Berth.Api;

// GET /containers/{id}/stats, in the field names and omissions of dockerd 20.10's types (api/types/stats.go).
// Units: nanoseconds for CPU times (system_cpu_usage too), bytes for memory and block I/O.

/// <summary>One sample of <c>GET /containers/{id}/stats</c>.</summary>
public sealed class ContainerStatsResponse
{
    /// <summary>When this sample was read (Go's RFC3339Nano).</summary>
    [JsonPropertyName("read")] public string Read { get; set; } = "0001-01-01T00:00:00Z";
    /// <summary>When the previous sample was read; the zero time before the first.</summary>
    [JsonPropertyName("preread")] public string PreRead { get; set; } = "0001-01-01T00:00:00Z";
    [JsonPropertyName("pids_stats")] public ContainerPidsStats PidsStats { get; set; } = new();
    [JsonPropertyName("blkio_stats")] public ContainerBlkioStats BlkioStats { get; set; } = new();
    /// <summary>Windows only; always 0 on Linux.</summary>
    [JsonPropertyName("num_procs")] public uint NumProcs { get; set; }
    /// <summary>Windows only; always {} on Linux.</summary>
    [JsonPropertyName("storage_stats")] public ContainerStorageStats StorageStats { get; set; } = new();
    [JsonPropertyName("cpu_stats")] public ContainerCpuStats CpuStats { get; set; } = new();
    [JsonPropertyName("precpu_stats")] public ContainerCpuStats PreCpuStats { get; set; } = new();
    [JsonPropertyName("memory_stats")] public ContainerMemoryStats MemoryStats { get; set; } = new();
    /// <summary>With the leading '/'.</summary>
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    /// <summary>Per interface; absent with --network none.</summary>
    [JsonPropertyName("networks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, ContainerNetworkStats>? Networks { get; set; }
}

public sealed class ContainerPidsStats
{
    [JsonPropertyName("current"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Current { get; set; }
    [JsonPropertyName("limit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Limit { get; set; }
}

public sealed class ContainerBlkioStatEntry
{
    [JsonPropertyName("major")] public ulong Major { get; set; }
    [JsonPropertyName("minor")] public ulong Minor { get; set; }
    /// <summary>"Read", "Write", "Sync", "Async", "Discard", "Total" on cgroup v1; "read", "write" on v2.</summary>
    [JsonPropertyName("op")] public string Op { get; set; } = "";
    [JsonPropertyName("value")] public ulong Value { get; set; }
}

/// <summary>dockerd sends every list, [] when empty on cgroup v1 and null for what v2 does not have.</summary>
public sealed class ContainerBlkioStats
{
    [JsonPropertyName("io_service_bytes_recursive")] public List<ContainerBlkioStatEntry>? IoServiceBytesRecursive { get; set; } = [];
    [JsonPropertyName("io_serviced_recursive")] public List<ContainerBlkioStatEntry>? IoServicedRecursive { get; set; } = [];
    [JsonPropertyName("io_queue_recursive")] public List<ContainerBlkioStatEntry>? IoQueuedRecursive { get; set; } = [];
    [JsonPropertyName("io_service_time_recursive")] public List<ContainerBlkioStatEntry>? IoServiceTimeRecursive { get; set; } = [];
    [JsonPropertyName("io_wait_time_recursive")] public List<ContainerBlkioStatEntry>? IoWaitTimeRecursive { get; set; } = [];
    [JsonPropertyName("io_merged_recursive")] public List<ContainerBlkioStatEntry>? IoMergedRecursive { get; set; } = [];
    [JsonPropertyName("io_time_recursive")] public List<ContainerBlkioStatEntry>? IoTimeRecursive { get; set; } = [];
    [JsonPropertyName("sectors_recursive")] public List<ContainerBlkioStatEntry>? SectorsRecursive { get; set; } = [];
}

/// <summary>Windows only: every field is omitted when zero, so Linux sends {}.</summary>
public sealed class ContainerStorageStats
{
    [JsonPropertyName("read_count_normalized"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong ReadCountNormalized { get; set; }
    [JsonPropertyName("read_size_bytes"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong ReadSizeBytes { get; set; }
    [JsonPropertyName("write_count_normalized"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong WriteCountNormalized { get; set; }
    [JsonPropertyName("write_size_bytes"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong WriteSizeBytes { get; set; }
}

public sealed class ContainerCpuUsage
{
    [JsonPropertyName("total_usage")] public ulong TotalUsage { get; set; }
    /// <summary>Per CPU on cgroup v1; absent on v2.</summary>
    [JsonPropertyName("percpu_usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? PercpuUsage { get; set; }
    [JsonPropertyName("usage_in_kernelmode")] public ulong UsageInKernelmode { get; set; }
    [JsonPropertyName("usage_in_usermode")] public ulong UsageInUsermode { get; set; }
}

public sealed class ContainerThrottlingData
{
    [JsonPropertyName("periods")] public ulong Periods { get; set; }
    [JsonPropertyName("throttled_periods")] public ulong ThrottledPeriods { get; set; }
    [JsonPropertyName("throttled_time")] public ulong ThrottledTime { get; set; }
}

public sealed class ContainerCpuStats
{
    [JsonPropertyName("cpu_usage")] public ContainerCpuUsage CpuUsage { get; set; } = new();
    /// <summary>The host's CPU time (all CPUs) in nanoseconds, from /proc/stat.</summary>
    [JsonPropertyName("system_cpu_usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong SystemCpuUsage { get; set; }
    [JsonPropertyName("online_cpus"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public uint OnlineCpus { get; set; }
    [JsonPropertyName("throttling_data")] public ContainerThrottlingData ThrottlingData { get; set; } = new();
}

public sealed class ContainerMemoryStats
{
    [JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Usage { get; set; }
    [JsonPropertyName("max_usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong MaxUsage { get; set; }
    /// <summary>memory.stat as the kernel names its keys (v1: cache, rss, total_inactive_file...; v2: anon, file, inactive_file...).</summary>
    [JsonPropertyName("stats"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, ulong>? Stats { get; set; }
    [JsonPropertyName("failcnt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Failcnt { get; set; }
    /// <summary>The cgroup's limit, or the host's memory when that is smaller (no limit set).</summary>
    [JsonPropertyName("limit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Limit { get; set; }
}

public sealed class ContainerNetworkStats
{
    [JsonPropertyName("rx_bytes")] public ulong RxBytes { get; set; }
    [JsonPropertyName("rx_packets")] public ulong RxPackets { get; set; }
    [JsonPropertyName("rx_errors")] public ulong RxErrors { get; set; }
    [JsonPropertyName("rx_dropped")] public ulong RxDropped { get; set; }
    [JsonPropertyName("tx_bytes")] public ulong TxBytes { get; set; }
    [JsonPropertyName("tx_packets")] public ulong TxPackets { get; set; }
    [JsonPropertyName("tx_errors")] public ulong TxErrors { get; set; }
    [JsonPropertyName("tx_dropped")] public ulong TxDropped { get; set; }
}
