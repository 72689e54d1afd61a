using Berth.Oci;
using static Berth.Cgroups.CgroupValues;

namespace Berth.Cgroups;

/// <summary>
/// linux.resources → writes into cgroup v1 controller files (v1 and hybrid hosts; devices are separate). Every
/// field is checked, and every refusal made, before the first write: a controller that is not mounted, a file
/// the kernel does not offer (memsw without swap accounting, blkio.weight without BFQ), `unified` (as runc refuses
/// it on v1 and hybrid hosts). Kernel memory limits are ignored, as by runc.
/// </summary>
public static class V1ResourcePlan
{
    const string R = "linux.resources";

    /// <param name="paths">The container's hierarchy key → directory map.</param>
    /// <param name="update">An update of a running container: memory.checkBeforeUpdate compares the new limit with the usage.</param>
    /// <param name="preflight">Before the directories exist: every refusal that needs only the host, none that needs
    /// a file of the container's own cgroup.</param>
    public static List<ResourceWrite> Plan(LinuxResources? r, IReadOnlyDictionary<string, string> paths, bool update = false,
        bool preflight = false)
    {
        var plan = new Planner(paths, preflight);
        if (r is null)
            return plan.Writes;
        Unified(r.Unified, paths);
        Memory(plan, r.Memory, update);
        Cpu(plan, r.Cpu);
        if (r.Pids is { Limit: not 0 } p) // 0 is unset, as in runc
            plan.Add("pids", "pids.max", p.Limit < 0 ? "max" : Text(p.Limit), $"{R}.pids.limit");
        BlockIo(plan, r.BlockIO);
        Hugetlb(plan, r.HugepageLimits, paths);
        Network(plan, r.Network);
        Rdma(plan, r.Rdma);
        return plan.Writes;
    }

    static void Memory(Planner plan, LinuxMemory? m, bool update)
    {
        if (m is null)
            return;
        // kernel and kernelTCP are ignored (CgroupManager warns), as by runc 1.1.
        long limit = m.Limit ?? 0, swap = m.Swap ?? 0;
        if (limit == -1 && swap == 0)
            swap = -1; // "unlimited memory" means unlimited memory+swap too, as runc reads it
        const string limitFile = "memory.limit_in_bytes", swapFile = "memory.memsw.limit_in_bytes";
        if (swap != 0)
            plan.RequireFile("memory", swapFile, $"{R}.memory.swap", "swap accounting is off in this kernel (swapaccount=1)");
        if (update && m.CheckBeforeUpdate == true && limit > 0 && plan.ReadLong("memory", "memory.usage_in_bytes") is var usage && limit < usage)
            throw new CgroupException($"{R}.memory.limit {limit} is below the container's current memory usage {usage} (checkBeforeUpdate is set)");
        var limitWrite = limit != 0 ? plan.Make("memory", limitFile, Text(limit), $"{R}.memory.limit") : (ResourceWrite?)null;
        var swapWrite = swap != 0 ? plan.Make("memory", swapFile, Text(swap), $"{R}.memory.swap") : (ResourceWrite?)null;
        if (limitWrite is { } l && swapWrite is { } s)
        {
            // The kernel keeps limit <= memsw at every step: raising both sets memsw first, lowering sets limit first.
            bool raising = swap == -1 || limit == -1 || limit > plan.ReadLong("memory", limitFile);
            plan.Writes.AddRange(raising ? [s, l] : [l, s]);
        }
        else
        {
            if (limitWrite is { } only) plan.Writes.Add(only);
            if (swapWrite is { } onlySwap) plan.Writes.Add(onlySwap);
        }
        if (m.Reservation is { } reservation)
            plan.Add("memory", "memory.soft_limit_in_bytes", Text(reservation), $"{R}.memory.reservation");
        if (m.Swappiness is { } swappiness) // 0-100, checked by CheckedResources
            plan.Add("memory", "memory.swappiness", Text(swappiness), $"{R}.memory.swappiness");
        if (m.DisableOOMKiller == true)
            plan.Add("memory", "memory.oom_control", "1", $"{R}.memory.disableOOMKiller");
        if (m.UseHierarchy is { } hierarchy)
            plan.Add("memory", "memory.use_hierarchy", hierarchy ? "1" : "0", $"{R}.memory.useHierarchy");
    }

    static void Cpu(Planner plan, LinuxCpu? c)
    {
        if (c is null)
            return;
        if (c.Shares is { } shares and not 0)
            plan.Writes.Add(plan.Make("cpu", "cpu.shares", Text(shares), $"{R}.cpu.shares") with { VerifyReadBack = true });
        // Period before quota; a period the current quota does not fit is retried once the quota is in.
        if (c.Period is { } period and not 0)
            plan.Writes.Add(plan.Make("cpu", "cpu.cfs_period_us", Text(period), $"{R}.cpu.period") with { RetryAfterNext = c.Quota is not null });
        if (c.Quota is { } quota and not 0)
            plan.Add("cpu", "cpu.cfs_quota_us", Text(quota), $"{R}.cpu.quota");
        if (c.Burst is { } burst)
            plan.Add("cpu", "cpu.cfs_burst_us", Text(burst), $"{R}.cpu.burst");
        if (c.RealtimePeriod is { } rtPeriod and not 0)
            plan.Add("cpu", "cpu.rt_period_us", Text(rtPeriod), $"{R}.cpu.realtimePeriod");
        if (c.RealtimeRuntime is { } rtRuntime and not 0)
            plan.Add("cpu", "cpu.rt_runtime_us", Text(rtRuntime), $"{R}.cpu.realtimeRuntime");
        if (c.Idle is { } idle)
            plan.Add("cpu", "cpu.idle", Text(idle), $"{R}.cpu.idle");
        if (!string.IsNullOrEmpty(c.Cpus))
            plan.Add("cpuset", "cpuset.cpus", c.Cpus, $"{R}.cpu.cpus");
        if (!string.IsNullOrEmpty(c.Mems))
            plan.Add("cpuset", "cpuset.mems", c.Mems, $"{R}.cpu.mems");
    }

    static void BlockIo(Planner plan, LinuxBlockIo? b)
    {
        if (b is null)
            return;
        const string noWeight = "no proportional I/O scheduler (BFQ) offers blkio weights on this host";
        string? weightFile = null;
        string WeightFile(string field) => weightFile ??=
            plan.FirstExisting("blkio", ["blkio.weight", "blkio.bfq.weight"], field, noWeight);
        // 0 is unset, as in runc: dockerd sends blockIO.weight 0 for every container without --blkio-weight.
        if (b.Weight is { } weight and not 0)
            plan.Add("blkio", WeightFile($"{R}.blockIO.weight"), Text(weight), $"{R}.blockIO.weight");
        if (b.LeafWeight is { } leaf and not 0)
            plan.Add("blkio", plan.FirstExisting("blkio", ["blkio.leaf_weight"], $"{R}.blockIO.leafWeight", noWeight),
                Text(leaf), $"{R}.blockIO.leafWeight");
        for (int i = 0; i < (b.WeightDevice?.Count ?? 0); i++)
        {
            var d = b.WeightDevice![i];
            string field = $"{R}.blockIO.weightDevice[{i}]";
            if (d.Weight is { } w)
                plan.Add("blkio", WeightFile(field) + "_device", $"{d.Major}:{d.Minor} {w}", field + ".weight");
            if (d.LeafWeight is { } lw)
                plan.Add("blkio", plan.FirstExisting("blkio", ["blkio.leaf_weight_device"], field, noWeight),
                    $"{d.Major}:{d.Minor} {lw}", field + ".leafWeight");
        }
        Throttle(plan, b.ThrottleReadBpsDevice, "throttleReadBpsDevice", "blkio.throttle.read_bps_device");
        Throttle(plan, b.ThrottleWriteBpsDevice, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device");
        Throttle(plan, b.ThrottleReadIOPSDevice, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device");
        Throttle(plan, b.ThrottleWriteIOPSDevice, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device");
    }

    static void Throttle(Planner plan, List<LinuxThrottleDevice>? list, string name, string file)
    {
        for (int i = 0; i < (list?.Count ?? 0); i++)
            plan.Add("blkio", file, $"{list![i].Major}:{list[i].Minor} {Text(list[i].Rate)}", $"{R}.blockIO.{name}[{i}]");
    }

    /// <summary>
    /// The v1 hugetlb controller when mounted; otherwise, on a hybrid host whose cgroup2 hierarchy carries hugetlb
    /// (as this one's does), hugetlb.&lt;size&gt;.max in the container's cgroup2 directory. The manager then enables
    /// hugetlb in the cgroup2 root's cgroup.subtree_control: every cgroup2 child gets hugetlb files, limitless
    /// unless written, which changes no limit anywhere else.
    /// </summary>
    static void Hugetlb(Planner plan, List<LinuxHugepageLimit>? limits, IReadOnlyDictionary<string, string> paths)
    {
        if (limits is not { Count: > 0 })
            return;
        bool v1 = paths.ContainsKey("hugetlb");
        if (!v1 && !paths.ContainsKey(CgroupManager.HybridUnifiedKey))
            throw new CgroupException(
                $"{R}.hugepageLimits: the hugetlb controller is mounted neither as a cgroup v1 hierarchy nor on cgroup2; remove the hugepage limits");
        for (int i = 0; i < limits.Count; i++)
        {
            string size = HugePageSizes.Check(limits[i].PageSize, $"{R}.hugepageLimits[{i}].pageSize");
            if (v1)
                plan.Add("hugetlb", $"hugetlb.{size}.limit_in_bytes", Text(limits[i].Limit), $"{R}.hugepageLimits[{i}]");
            else
                plan.Add(CgroupManager.HybridUnifiedKey, $"hugetlb.{size}.max", Text(limits[i].Limit), $"{R}.hugepageLimits[{i}]");
        }
    }

    static void Network(Planner plan, LinuxNetwork? n)
    {
        if (n is null)
            return;
        if (n.ClassID is { } classId)
        {
            plan.RequireKey("net_cls", $"{R}.network.classID");
            plan.Add("net_cls", "net_cls.classid", Text(classId), $"{R}.network.classID");
        }
        for (int i = 0; i < (n.Priorities?.Count ?? 0); i++)
        {
            var p = n.Priorities![i];
            plan.RequireKey("net_prio", $"{R}.network.priorities");
            plan.Add("net_prio", "net_prio.ifpriomap", $"{p.Name} {p.Priority}", $"{R}.network.priorities[{i}]");
        }
    }

    static void Rdma(Planner plan, Dictionary<string, LinuxRdma>? rdma)
    {
        foreach (var (device, limit) in rdma ?? [])
            plan.Add("rdma", "rdma.max", RdmaLine(device, limit), $"{R}.rdma.{device}");
    }

    internal static string RdmaLine(string device, LinuxRdma limit)
    {
        string line = device;
        if (limit.HcaHandles is { } handles) line += $" hca_handle={handles}";
        if (limit.HcaObjects is { } objects) line += $" hca_object={objects}";
        return line;
    }

    /// <summary>
    /// Refused whenever it asks for anything, with runc's words: runc 1.1's cgroup v1 manager, which it uses on hybrid
    /// hosts too, refuses unified at create and at update. On a hybrid host the cgroup2 hierarchy is for tracking;
    /// the v1 hierarchies carry the controllers, and a limit written there would not be one runc would set.
    /// </summary>
    static void Unified(Dictionary<string, string>? unified, IReadOnlyDictionary<string, string> paths)
    {
        if (unified is not { Count: > 0 })
            return;
        string where = paths.ContainsKey(CgroupManager.HybridUnifiedKey)
            ? "this hybrid host's controllers are on cgroup v1 hierarchies (its cgroup2 hierarchy only tracks processes)"
            : "this host has only cgroup v1 hierarchies";
        throw new CgroupException($"{R}.unified: invalid configuration: cannot use unified on cgroup v1: {where}; " +
            $"remove {string.Join(", ", unified.Keys.Select(k => $"\"{k}\""))} or give the v1 field");
    }

    /// <summary>Collects writes and checks that their controllers and files exist.</summary>
    sealed class Planner(IReadOnlyDictionary<string, string> paths, bool preflight)
    {
        public List<ResourceWrite> Writes { get; } = [];

        public void RequireKey(string key, string field)
        {
            if (!paths.ContainsKey(key))
                throw new CgroupException($"{field}: the {key} cgroup controller is not mounted on this host (no cgroup v1 hierarchy carries it)");
        }

        public void RequireFile(string key, string file, string field, string why)
        {
            RequireKey(key, field);
            string path = Path.Combine(paths[key], file);
            if (!preflight && !File.Exists(path))
                throw new CgroupException($"{field}: {path} does not exist: {why}");
        }

        public string FirstExisting(string key, string[] files, string field, string why)
        {
            RequireKey(key, field);
            if (preflight)
                return files[0];
            foreach (string file in files)
                if (File.Exists(Path.Combine(paths[key], file)))
                    return file;
            throw new CgroupException($"{field}: none of {string.Join(", ", files)} exists in {paths[key]}: {why}");
        }

        public ResourceWrite Make(string key, string file, string value, string field)
        {
            RequireKey(key, field);
            return new ResourceWrite(key, file, value, field);
        }

        public void Add(string key, string file, string value, string field) => Writes.Add(Make(key, file, value, field));

        /// <summary>The value of a file of the container's cgroup; 0 in a preflight, which has none yet.</summary>
        public long ReadLong(string key, string file)
        {
            if (preflight)
                return 0;
            string path = Path.Combine(paths[key], file);
            try
            {
                return long.TryParse(File.ReadAllText(path).Trim(), out long value) ? value : long.MaxValue;
            }
            catch (IOException e)
            {
                throw new CgroupException($"read {path}: {e.Message}", e);
            }
        }
    }
}
