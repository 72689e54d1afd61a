using System.Globalization;

namespace Berth.Cgroups;

/// <summary>
/// Reads a container's statistics from its cgroup files: the v1 controllers (cpuacct, cpu, memory, pids, blkio,
/// hugetlb) or the v2 directory (cpu.stat, memory.*, pids.*, io.stat, hugetlb.*). A file that is missing
/// (controller not mounted, accounting off) leaves its fields at zero, as runc does.
/// </summary>
public static class StatsReader
{
    /// <summary>USER_HZ: cpuacct.stat counts in these ticks.</summary>
    const ulong ClockTicks = 100, NanosPerTick = 1_000_000_000 / ClockTicks;

    public static CgroupStats Read(IReadOnlyDictionary<string, string> paths)
    {
        var stats = new CgroupStats();
        if (paths.TryGetValue(CgroupManager.V2Key, out string? v2))
            ReadV2(v2, stats);
        else
            ReadV1(paths, stats);
        return stats;
    }

    static void ReadV1(IReadOnlyDictionary<string, string> paths, CgroupStats s)
    {
        string? Dir(string key) => paths.TryGetValue(key, out string? d) ? d : null;
        if (Dir("cpuacct") is { } acct)
        {
            s.Cpu.Usage.Total = Number(acct, "cpuacct.usage");
            s.Cpu.Usage.Percpu = NullIfEmpty(Numbers(acct, "cpuacct.usage_percpu"));
            s.Cpu.Usage.PercpuKernel = NullIfEmpty(Numbers(acct, "cpuacct.usage_percpu_sys"));
            s.Cpu.Usage.PercpuUser = NullIfEmpty(Numbers(acct, "cpuacct.usage_percpu_user"));
            var ticks = KeyValues(acct, "cpuacct.stat");
            s.Cpu.Usage.User = ticks.GetValueOrDefault("user") * NanosPerTick;
            s.Cpu.Usage.Kernel = ticks.GetValueOrDefault("system") * NanosPerTick;
        }
        if (Dir("cpu") is { } cpu)
        {
            var stat = KeyValues(cpu, "cpu.stat");
            s.Cpu.Throttling.Periods = stat.GetValueOrDefault("nr_periods");
            s.Cpu.Throttling.ThrottledPeriods = stat.GetValueOrDefault("nr_throttled");
            s.Cpu.Throttling.ThrottledTime = stat.GetValueOrDefault("throttled_time");
        }
        if (Dir("cpuset") is { } cpuset)
        {
            var c = s.Cpuset;
            c.Cpus = CpuList(cpuset, "cpuset.cpus");
            c.Mems = CpuList(cpuset, "cpuset.mems");
            c.CpuExclusive = Number(cpuset, "cpuset.cpu_exclusive");
            c.MemHardwall = Number(cpuset, "cpuset.mem_hardwall");
            c.MemExclusive = Number(cpuset, "cpuset.mem_exclusive");
            c.MemoryMigrate = Number(cpuset, "cpuset.memory_migrate");
            c.MemorySpreadPage = Number(cpuset, "cpuset.memory_spread_page");
            c.MemorySpreadSlab = Number(cpuset, "cpuset.memory_spread_slab");
            c.MemoryPressure = Number(cpuset, "cpuset.memory_pressure");
            c.SchedLoadBalance = Number(cpuset, "cpuset.sched_load_balance");
            c.SchedRelaxDomainLevel = Lines(cpuset, "cpuset.sched_relax_domain_level").FirstOrDefault() is { } level
                && long.TryParse(level.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : 0;
        }
        if (Dir("memory") is { } mem)
        {
            var raw = KeyValues(mem, "memory.stat");
            s.Memory.Raw = raw.Count > 0 ? raw : null;
            s.Memory.Cache = raw.GetValueOrDefault("total_cache", raw.GetValueOrDefault("cache"));
            s.Memory.Usage = V1Entry(mem, "memory");
            s.Memory.Swap = V1Entry(mem, "memory.memsw");
            s.Memory.Kernel = V1Entry(mem, "memory.kmem");
            s.Memory.KernelTcp = V1Entry(mem, "memory.kmem.tcp");
        }
        if (Dir("pids") is { } pids)
        {
            s.Pids.Current = Number(pids, "pids.current");
            s.Pids.Limit = Number(pids, "pids.max"); // "max" reads as 0: no limit, as runc reports it
        }
        if (Dir("blkio") is { } blkio)
        {
            s.Blkio.IoServiceBytesRecursive = BlkioEntries(blkio, "blkio.throttle.io_service_bytes_recursive");
            s.Blkio.IoServicedRecursive = BlkioEntries(blkio, "blkio.throttle.io_serviced_recursive");
        }
        if (Dir("hugetlb") is null && Dir(CgroupManager.HybridUnifiedKey) is { } unified)
            ReadV2Hugetlb(unified, s); // a hybrid host whose hugetlb controller is on cgroup2
        if (Dir("hugetlb") is { } huge)
        {
            foreach (string limit in Directory.GetFiles(huge, "hugetlb.*.limit_in_bytes"))
            {
                string size = Path.GetFileName(limit)["hugetlb.".Length..^".limit_in_bytes".Length];
                if (size.Contains('.')) continue; // the .rsvd files
                s.Hugetlb[size] = new HugetlbStats
                {
                    Usage = Number(huge, $"hugetlb.{size}.usage_in_bytes"),
                    Max = Number(huge, $"hugetlb.{size}.max_usage_in_bytes"),
                    Failcnt = Number(huge, $"hugetlb.{size}.failcnt"),
                };
            }
        }
    }

    static MemoryEntry V1Entry(string dir, string prefix) => new()
    {
        Usage = Number(dir, prefix + ".usage_in_bytes"),
        Max = Number(dir, prefix + ".max_usage_in_bytes"),
        Failcnt = Number(dir, prefix + ".failcnt"),
        Limit = Number(dir, prefix + ".limit_in_bytes"),
    };

    static void ReadV2(string dir, CgroupStats s)
    {
        var cpu = KeyValues(dir, "cpu.stat");
        s.Cpu.Usage.Total = cpu.GetValueOrDefault("usage_usec") * 1000;
        s.Cpu.Usage.User = cpu.GetValueOrDefault("user_usec") * 1000;
        s.Cpu.Usage.Kernel = cpu.GetValueOrDefault("system_usec") * 1000;
        s.Cpu.Throttling.Periods = cpu.GetValueOrDefault("nr_periods");
        s.Cpu.Throttling.ThrottledPeriods = cpu.GetValueOrDefault("nr_throttled");
        s.Cpu.Throttling.ThrottledTime = cpu.GetValueOrDefault("throttled_usec") * 1000;

        // v2 has no per-CPU times and no cpuset flags; the effective sets are what the container runs on.
        s.Cpuset.Cpus = CpuList(dir, "cpuset.cpus.effective");
        s.Cpuset.Mems = CpuList(dir, "cpuset.mems.effective");

        var raw = KeyValues(dir, "memory.stat");
        s.Memory.Raw = raw.Count > 0 ? raw : null;
        s.Memory.Cache = raw.GetValueOrDefault("file");
        var events = KeyValues(dir, "memory.events");
        s.Memory.Usage = new MemoryEntry
        {
            Usage = Number(dir, "memory.current"), Max = Number(dir, "memory.peak"),
            Limit = MaxOrNumber(dir, "memory.max"), Failcnt = events.GetValueOrDefault("max"),
        };
        // runc reports swap as memory+swap on v2 too, for compatibility with v1 readers.
        bool hasSwap = File.Exists(Path.Combine(dir, "memory.swap.max"));
        s.Memory.Swap = new MemoryEntry
        {
            Usage = Number(dir, "memory.swap.current") + s.Memory.Usage.Usage,
            Limit = hasSwap ? SaturatingAdd(MaxOrNumber(dir, "memory.swap.max"), s.Memory.Usage.Limit) : 0,
        };

        s.Pids.Current = Number(dir, "pids.current");
        s.Pids.Limit = Number(dir, "pids.max");

        var read = new List<BlkioEntry>();
        var ops = new List<BlkioEntry>();
        foreach (string line in Lines(dir, "io.stat"))
        {
            // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] dev = parts[0].Split(':');
            if (dev.Length != 2 || !ulong.TryParse(dev[0], out ulong major) || !ulong.TryParse(dev[1], out ulong minor)) continue;
            foreach (string kv in parts.Skip(1))
            {
                int eq = kv.IndexOf('=');
                if (eq < 0 || !ulong.TryParse(kv[(eq + 1)..], out ulong value)) continue;
                var (list, op) = kv[..eq] switch
                {
                    "rbytes" => (read, "Read"), "wbytes" => (read, "Write"),
                    "rios" => (ops, "Read"), "wios" => (ops, "Write"), _ => ((List<BlkioEntry>?)null, ""),
                };
                list?.Add(new BlkioEntry { Major = major, Minor = minor, Op = op, Value = value });
            }
        }
        s.Blkio.IoServiceBytesRecursive = read.Count > 0 ? read : null;
        s.Blkio.IoServicedRecursive = ops.Count > 0 ? ops : null;

        ReadV2Hugetlb(dir, s);
    }

    static void ReadV2Hugetlb(string dir, CgroupStats s)
    {
        foreach (string max in Directory.Exists(dir) ? Directory.GetFiles(dir, "hugetlb.*.max") : [])
        {
            string size = Path.GetFileName(max)["hugetlb.".Length..^".max".Length];
            if (size.Contains('.')) continue;
            s.Hugetlb[size] = new HugetlbStats
            {
                Usage = Number(dir, $"hugetlb.{size}.current"),
                Failcnt = KeyValues(dir, $"hugetlb.{size}.events").GetValueOrDefault("max"),
            };
        }
    }

    static List<ulong>? NullIfEmpty(List<ulong> values) => values.Count > 0 ? values : null;

    /// <summary>A cpuset list ("0-3,8,10-11") as the numbers it names; null when the file is missing or empty.</summary>
    internal static List<ushort>? CpuList(string dir, string file)
    {
        var result = new List<ushort>();
        foreach (string part in (Lines(dir, file).FirstOrDefault() ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] range = part.Split('-');
            if (!ushort.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort first))
                continue;
            ushort last = first;
            if (range.Length == 2 && !ushort.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out last))
                continue;
            for (int n = first; n <= last; n++)
                result.Add((ushort)n);
        }
        return result.Count > 0 ? result : null;
    }

    static ulong SaturatingAdd(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;

    /// <summary>A v2 limit: "max" is reported as the largest value, as runc does.</summary>
    static ulong MaxOrNumber(string dir, string file) =>
        Lines(dir, file).FirstOrDefault() is "max" ? ulong.MaxValue : Number(dir, file);

    static ulong Number(string dir, string file) =>
        Lines(dir, file).FirstOrDefault() is { } line && ulong.TryParse(line.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : 0;

    static List<ulong> Numbers(string dir, string file) =>
        Lines(dir, file).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(t => ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : 0).ToList();

    /// <summary>"key value" lines (memory.stat, cpu.stat, cpuacct.stat, *.events).</summary>
    internal static Dictionary<string, ulong> KeyValues(string dir, string file)
    {
        var result = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (string line in Lines(dir, file))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
                result[parts[0]] = v;
        }
        return result;
    }

    static List<BlkioEntry>? BlkioEntries(string dir, string file)
    {
        var entries = new List<BlkioEntry>();
        foreach (string line in Lines(dir, file))
        {
            // "8:0 Read 4096" (and a final "Total N" line, skipped)
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3) continue;
            string[] dev = parts[0].Split(':');
            if (dev.Length == 2 && ulong.TryParse(dev[0], out ulong major) && ulong.TryParse(dev[1], out ulong minor) && ulong.TryParse(parts[2], out ulong value))
                entries.Add(new BlkioEntry { Major = major, Minor = minor, Op = parts[1], Value = value });
        }
        return entries.Count > 0 ? entries : null;
    }

    static string[] Lines(string dir, string file)
    {
        try
        {
            return File.ReadAllLines(Path.Combine(dir, file)).Where(l => l.Length > 0).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
