using Berth.Oci;
using static Berth.Cgroups.CgroupValues;

namespace Berth.Cgroups;

/// <summary>
/// linux.resources → writes into a pure cgroup v2 directory, with crun's v1 → v2 conversions: shares → cpu.weight,
/// quota/period → cpu.max, memory+swap → memory.swap.max, blkio weights → io.bfq.weight as they are or io.weight
/// converted, throttles → io.max. Fields v2 has no file for (swappiness, disableOOMKiller, realtime, leaf
/// weights) are refused rather than dropped; kernel memory limits are ignored with a warning, as runc ignores
/// them. `unified` entries go last, so they win.
/// </summary>
public static class V2ResourcePlan
{
    const string R = "linux.resources", Key = CgroupManager.V2Key;

    /// <summary>The writes, and the controllers the parent cgroups must enable for them (subtree_control).</summary>
    public static (List<ResourceWrite> Writes, SortedSet<string> Controllers) Plan(LinuxResources? r, string dir, bool update = false)
    {
        var writes = new List<ResourceWrite>();
        var controllers = new SortedSet<string>(StringComparer.Ordinal);
        if (r is null)
            return (writes, controllers);
        void Add(string file, string value, string field)
        {
            writes.Add(new ResourceWrite(Key, file, value, field));
            int dot = file.IndexOf('.');
            if (dot > 0 && file[..dot] is not "cgroup")
                controllers.Add(file[..dot]);
        }

        if (r.Memory is { } m)
        {
            // kernel and kernelTCP do not exist on cgroup v2: ignored (CgroupManager warns), as by runc.
            if (m.Swappiness is not null)
                throw new CgroupException($"{R}.memory.swappiness ({m.Swappiness}) has no cgroup v2 equivalent; remove it");
            if (m.DisableOOMKiller == true)
                throw new CgroupException($"{R}.memory.disableOOMKiller has no cgroup v2 equivalent; remove it");
            if (update && m.CheckBeforeUpdate == true && m.Limit is > 0 and var newLimit
                && ReadLong(Path.Combine(dir, "memory.current")) is var usage && newLimit < usage)
                throw new CgroupException($"{R}.memory.limit {newLimit} is below the container's current memory usage {usage} (checkBeforeUpdate is set)");
            long? swap = SwapToV2(m.Swap, m.Limit);
            // The swap limit first: lowering memory.max below usage makes the kernel reclaim into swap.
            if (swap is { } s)
                Add("memory.swap.max", MaxOr(s), $"{R}.memory.swap");
            if (m.Limit is { } limit and not 0)
                Add("memory.max", MaxOr(limit), $"{R}.memory.limit");
            if (m.Reservation is { } reservation and not 0)
                Add("memory.low", MaxOr(reservation), $"{R}.memory.reservation");
        }

        if (r.Cpu is { } c)
        {
            if (c.RealtimeRuntime is not (null or 0) || c.RealtimePeriod is not (null or 0))
                throw new CgroupException($"{R}.cpu.realtimeRuntime/realtimePeriod: realtime CPU scheduling is not available on cgroup v2; remove them");
            if (c.Shares is { } shares and not 0)
                Add("cpu.weight", Text(SharesToWeight(shares)), $"{R}.cpu.shares");
            if (c.Quota is not (null or 0) || c.Period is not (null or 0))
            {
                // "max" or the quota, then the period if given (the kernel keeps the current period otherwise).
                string value = c.Quota is > 0 ? Text(c.Quota.Value) : "max";
                if (c.Period is { } period and not 0)
                    value += " " + Text(period);
                Add("cpu.max", value, c.Quota is not (null or 0) ? $"{R}.cpu.quota" : $"{R}.cpu.period");
            }
            if (c.Burst is { } burst)
                Add("cpu.max.burst", Text(burst), $"{R}.cpu.burst");
            if (c.Idle is { } idle)
                Add("cpu.idle", Text(idle), $"{R}.cpu.idle");
            if (!string.IsNullOrEmpty(c.Cpus))
                Add("cpuset.cpus", c.Cpus, $"{R}.cpu.cpus");
            if (!string.IsNullOrEmpty(c.Mems))
                Add("cpuset.mems", c.Mems, $"{R}.cpu.mems");
        }

        if (r.Pids is { Limit: not 0 } p)
            Add("pids.max", MaxOr(p.Limit), $"{R}.pids.limit");

        if (r.BlockIO is { } b)
        {
            if (b.LeafWeight is not (null or 0) || b.WeightDevice?.Any(d => d.LeafWeight is not null) == true)
                throw new CgroupException($"{R}.blockIO.leafWeight has no cgroup v2 equivalent; remove it");
            // BFQ's io.bfq.weight takes the blkio range as it is; io.weight (iocost) needs the conversion.
            bool bfq = File.Exists(Path.Combine(dir, "io.bfq.weight"));
            string file = bfq ? "io.bfq.weight" : "io.weight";
            if (b.Weight is { } weight and not 0) // 0 is unset, as in runc (dockerd always sends it)
            {
                string field = $"{R}.blockIO.weight";
                Add(file, bfq ? Text(weight) : "default " + Text(BlkioWeightToIoWeight(weight, field)), field);
            }
            for (int i = 0; i < (b.WeightDevice?.Count ?? 0); i++)
            {
                var d = b.WeightDevice![i];
                string field = $"{R}.blockIO.weightDevice[{i}].weight";
                if (d.Weight is { } w)
                    Add(file, $"{d.Major}:{d.Minor} {(bfq ? Text(w) : Text(BlkioWeightToIoWeight(w, field)))}", field);
            }
            IoMax(b.ThrottleReadBpsDevice, "throttleReadBpsDevice", "rbps");
            IoMax(b.ThrottleWriteBpsDevice, "throttleWriteBpsDevice", "wbps");
            IoMax(b.ThrottleReadIOPSDevice, "throttleReadIOPSDevice", "riops");
            IoMax(b.ThrottleWriteIOPSDevice, "throttleWriteIOPSDevice", "wiops");
            void IoMax(List<LinuxThrottleDevice>? list, string name, string kind)
            {
                for (int i = 0; i < (list?.Count ?? 0); i++)
                {
                    var d = list![i];
                    Add("io.max", $"{d.Major}:{d.Minor} {kind}={(d.Rate == 0 ? "max" : Text(d.Rate))}", $"{R}.blockIO.{name}[{i}]");
                }
            }
        }

        for (int i = 0; i < (r.HugepageLimits?.Count ?? 0); i++)
        {
            string size = HugePageSizes.Check(r.HugepageLimits![i].PageSize, $"{R}.hugepageLimits[{i}].pageSize");
            Add($"hugetlb.{size}.max", Text(r.HugepageLimits[i].Limit), $"{R}.hugepageLimits[{i}]");
        }

        if (r.Network is { } n && (n.ClassID is not null || n.Priorities is { Count: > 0 }))
            throw new CgroupException($"{R}.network: net_cls and net_prio do not exist on cgroup v2 (use an eBPF program or tc); remove classID and priorities");

        foreach (var (device, limit) in r.Rdma ?? [])
            Add("rdma.max", V1ResourcePlan.RdmaLine(device, limit), $"{R}.rdma.{device}");

        foreach (var (file, value) in r.Unified ?? [])
        {
            string field = $"{R}.unified[\"{file}\"]";
            if (CheckedResources.UnifiedKeyProblem(file) is { } problem)
                throw new CgroupException($"{field} {problem}");
            Add(file, value, field);
        }

        // Every file must exist once its controller is enabled; a missing one after that is reported by name.
        return (writes, controllers);
    }

    static long ReadLong(string path)
    {
        try
        {
            return long.TryParse(File.ReadAllText(path).Trim(), out long value) ? value : 0;
        }
        catch (IOException e)
        {
            throw new CgroupException($"read {path}: {e.Message}", e);
        }
    }
}
