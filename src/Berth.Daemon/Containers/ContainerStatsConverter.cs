using System.Globalization;
using Berth.Api;
using Berth.Cgroups;
using Berth.Daemon.Images;

namespace Berth.Daemon.Containers;

/// <summary>One reading of a container's cgroup with the host's CPU time at the same moment.</summary>
/// <param name="SystemCpuNanos">The host's CPU time over all CPUs (<see cref="HostCpu.SystemNanos"/>).</param>
/// <param name="OnlineCpus">The host's online CPUs (<see cref="HostCpu.OnlineCount"/>).</param>
public sealed record StatsSample(DateTimeOffset ReadAt, CgroupStats Cgroup, ulong SystemCpuNanos, uint OnlineCpus);

/// <summary>
/// A cgroup reading → <c>GET /containers/{id}/stats</c> as dockerd 20.10 builds it: the docker CLI's CPU % is
/// Δtotal_usage / Δsystem_cpu_usage × online_cpus between cpu_stats and precpu_stats (the previous sample, zeros for
/// the first), its memory is usage minus total_inactive_file (v1) or inactive_file (v2) over limit.
/// </summary>
public static class ContainerStatsConverter
{
    /// <param name="name">With or without the leading '/'; sent with it.</param>
    /// <param name="cgroupV2">Whether the reading came from a cgroup v2 directory (no per-CPU times, v2 block I/O shape).</param>
    /// <param name="machineMemory">The host's memory (<see cref="HostCpu.MachineMemory"/>): the limit shown when the cgroup's is larger.</param>
    /// <param name="previous">The sample before this one in a stream; null for the first (or stream=false with one-shot).</param>
    public static ContainerStatsResponse Convert(string id, string name, bool cgroupV2, ulong machineMemory, StatsSample current, StatsSample? previous)
    {
        var cgroup = current.Cgroup;
        var memory = new ContainerMemoryStats
        {
            Usage = cgroup.Memory.Usage.Usage,
            MaxUsage = cgroupV2 ? 0 : cgroup.Memory.Usage.Max,
            Stats = MemoryStatKeys(cgroup.Memory.Raw, cgroupV2),
            Failcnt = cgroupV2 ? 0 : cgroup.Memory.Usage.Failcnt,
            Limit = machineMemory > 0 && cgroup.Memory.Usage.Limit > machineMemory ? machineMemory : cgroup.Memory.Usage.Limit,
        };
        return new ContainerStatsResponse
        {
            Id = id,
            Name = name.StartsWith('/') ? name : "/" + name,
            Read = ImageApiModels.Rfc3339Nano(current.ReadAt),
            PreRead = previous is null ? "0001-01-01T00:00:00Z" : ImageApiModels.Rfc3339Nano(previous.ReadAt),
            PidsStats = new ContainerPidsStats { Current = cgroup.Pids.Current, Limit = cgroup.Pids.Limit },
            BlkioStats = cgroupV2 ? BlkioV2(cgroup.Blkio) : BlkioV1(cgroup.Blkio),
            CpuStats = Cpu(current, cgroupV2),
            PreCpuStats = previous is null ? new ContainerCpuStats() : Cpu(previous, cgroupV2),
            MemoryStats = memory,
        };
    }

    // dockerd 20.10 reports memory.stat through containerd's fixed metrics: these keys, 0 when the kernel lacks one,
    // and none of the others (shmem, swap, workingset_refault_anon... on v1).
    static readonly string[] V1MemoryKeys =
    [
        "active_anon", "active_file", "cache", "dirty", "hierarchical_memory_limit", "hierarchical_memsw_limit",
        "inactive_anon", "inactive_file", "mapped_file", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "rss",
        "rss_huge", "total_active_anon", "total_active_file", "total_cache", "total_dirty", "total_inactive_anon",
        "total_inactive_file", "total_mapped_file", "total_pgfault", "total_pgmajfault", "total_pgpgin",
        "total_pgpgout", "total_rss", "total_rss_huge", "total_unevictable", "total_writeback", "unevictable",
        "writeback",
    ];

    static readonly string[] V2MemoryKeys =
    [
        "anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty", "file_writeback",
        "anon_thp", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
        "slab_reclaimable", "slab_unreclaimable", "pgfault", "pgmajfault", "workingset_refault",
        "workingset_activate", "workingset_nodereclaim", "pgrefill", "pgscan", "pgsteal", "pgactivate",
        "pgdeactivate", "pglazyfree", "pglazyfreed", "thp_fault_alloc", "thp_collapse_alloc",
    ];

    static Dictionary<string, ulong>? MemoryStatKeys(Dictionary<string, ulong>? raw, bool cgroupV2) =>
        raw is null ? null : (cgroupV2 ? V2MemoryKeys : V1MemoryKeys).Order(StringComparer.Ordinal).ToDictionary(k => k, k => raw.GetValueOrDefault(k)); // sorted, as Go writes a map

    static ContainerCpuStats Cpu(StatsSample sample, bool cgroupV2)
    {
        var cpu = sample.Cgroup.Cpu;
        return new ContainerCpuStats
        {
            CpuUsage = new ContainerCpuUsage
            {
                TotalUsage = cpu.Usage.Total,
                PercpuUsage = cgroupV2 ? null : cpu.Usage.Percpu,
                UsageInKernelmode = cpu.Usage.Kernel,
                UsageInUsermode = cpu.Usage.User,
            },
            SystemCpuUsage = sample.SystemCpuNanos,
            OnlineCpus = sample.OnlineCpus,
            ThrottlingData = new ContainerThrottlingData
            {
                Periods = cpu.Throttling.Periods,
                ThrottledPeriods = cpu.Throttling.ThrottledPeriods,
                ThrottledTime = cpu.Throttling.ThrottledTime,
            },
        };
    }

    static ContainerBlkioStats BlkioV1(Berth.Cgroups.BlkioStats blkio) => new()
    {
        IoServiceBytesRecursive = Entries(blkio.IoServiceBytesRecursive, lower: false),
        IoServicedRecursive = Entries(blkio.IoServicedRecursive, lower: false),
    };

    // dockerd 20.10 on v2: bytes read and written only, ops in lower case, the other lists null.
    static ContainerBlkioStats BlkioV2(Berth.Cgroups.BlkioStats blkio) => new()
    {
        IoServiceBytesRecursive = blkio.IoServiceBytesRecursive is null ? null : Entries(blkio.IoServiceBytesRecursive, lower: true),
        IoServicedRecursive = null, IoQueuedRecursive = null, IoServiceTimeRecursive = null, IoWaitTimeRecursive = null,
        IoMergedRecursive = null, IoTimeRecursive = null, SectorsRecursive = null,
    };

    static List<ContainerBlkioStatEntry> Entries(List<BlkioEntry>? entries, bool lower) =>
        entries?.Select(e => new ContainerBlkioStatEntry
        {
            Major = e.Major, Minor = e.Minor, Value = e.Value,
            Op = lower ? (e.Op ?? "").ToLowerInvariant() : e.Op ?? "",
        }).ToList() ?? [];
}

/// <summary>The host's side of a stats sample: CPU time from /proc/stat, online CPUs, memory from /proc/meminfo.</summary>
public static class HostCpu
{
    /// <summary>USER_HZ, the unit of /proc/stat (100 on every Linux architecture dockerd runs on).</summary>
    const ulong TicksPerSecond = 100;

    /// <summary>
    /// The "cpu" line of /proc/stat: user, nice, system, idle, iowait, irq, softirq (the first 7 fields, as dockerd sums
    /// them; steal and guest are left out) in nanoseconds.
    /// </summary>
    /// <exception cref="FormatException">No "cpu" line with 7 numbers; the message names /proc/stat.</exception>
    public static ulong SystemNanos(string procStat)
    {
        foreach (var line in procStat.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields[0] != "cpu") continue;
            if (fields.Length < 8) throw new FormatException($"/proc/stat: the cpu line has {fields.Length - 1} fields, dockerd needs 7: \"{line}\"");
            ulong ticks = 0;
            foreach (var field in fields.AsSpan(1, 7))
                ticks += ulong.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)
                    ? n : throw new FormatException($"/proc/stat: \"{field}\" in the cpu line is not a number");
            return ticks * (1_000_000_000 / TicksPerSecond);
        }
        throw new FormatException("/proc/stat has no \"cpu\" line");
    }

    /// <summary>The count of CPUs in a kernel CPU list such as /sys/devices/system/cpu/online ("0-3,6").</summary>
    public static uint OnlineCount(string cpuList)
    {
        uint count = 0;
        foreach (var part in cpuList.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            if (!uint.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint first)
                || !uint.TryParse(range[^1], NumberStyles.None, CultureInfo.InvariantCulture, out uint last) || last < first)
                throw new FormatException($"\"{cpuList.Trim()}\" is not a CPU list (as /sys/devices/system/cpu/online holds)");
            count += last - first + 1;
        }
        return count;
    }

    /// <summary>MemTotal of /proc/meminfo, in bytes; 0 when it is missing.</summary>
    public static ulong MachineMemory(string procMeminfo)
    {
        foreach (var line in procMeminfo.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[0] == "MemTotal:" && ulong.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong kib))
                return kib * 1024;
        }
        return 0;
    }

    /// <summary>A sample of this host now, for <paramref name="cgroup"/> read just before.</summary>
    public static StatsSample Sample(CgroupStats cgroup) => new(DateTimeOffset.UtcNow, cgroup,
        SystemNanos(File.ReadAllText("/proc/stat")), OnlineCount(File.ReadAllText("/sys/devices/system/cpu/online")));
}
