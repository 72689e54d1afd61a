using Berth.Oci;

namespace Berth.Cgroups;

/// <summary>
/// The resource fields this manager cannot apply yet (everything but devices). A limit that is set and not
/// applied would be a silent lie, so any such field is refused; empty objects and unset fields are fine.
/// </summary>
public static class UnsupportedResources
{
    /// <summary>Each set field as (JSON path, value), in spec order.</summary>
    public static IReadOnlyList<(string Field, string Value)> Find(LinuxResources? r)
    {
        var found = new List<(string, string)>();
        if (r is null)
            return found;
        const string root = "linux.resources";

        void Value<T>(string field, T? value) where T : struct
        {
            if (value.HasValue)
                found.Add(($"{root}.{field}", Format(value.Value)));
        }
        void Text(string field, string? value)
        {
            if (!string.IsNullOrEmpty(value))
                found.Add(($"{root}.{field}", value));
        }
        void List<T>(string field, ICollection<T>? list)
        {
            if (list is { Count: > 0 })
                found.Add(($"{root}.{field}", $"{list.Count} entries"));
        }

        if (r.Memory is { } m)
        {
            Value("memory.limit", m.Limit);
            Value("memory.reservation", m.Reservation);
            Value("memory.swap", m.Swap);
            Value("memory.kernel", m.Kernel);
            Value("memory.kernelTCP", m.KernelTCP);
            Value("memory.swappiness", m.Swappiness);
            if (m.DisableOOMKiller == true)
                found.Add(($"{root}.memory.disableOOMKiller", "true"));
            Value("memory.useHierarchy", m.UseHierarchy);
            // checkBeforeUpdate only changes how an update is checked; it sets nothing.
        }
        if (r.Cpu is { } c)
        {
            Value("cpu.shares", c.Shares);
            Value("cpu.quota", c.Quota);
            Value("cpu.burst", c.Burst);
            Value("cpu.period", c.Period);
            Value("cpu.realtimeRuntime", c.RealtimeRuntime);
            Value("cpu.realtimePeriod", c.RealtimePeriod);
            Text("cpu.cpus", c.Cpus);
            Text("cpu.mems", c.Mems);
            Value("cpu.idle", c.Idle);
        }
        if (r.Pids is { Limit: not 0 } p) // 0 means unset, as in runc
            found.Add(($"{root}.pids.limit", Format(p.Limit)));
        if (r.BlockIO is { } b)
        {
            Value("blockIO.weight", b.Weight);
            Value("blockIO.leafWeight", b.LeafWeight);
            List("blockIO.weightDevice", b.WeightDevice);
            List("blockIO.throttleReadBpsDevice", b.ThrottleReadBpsDevice);
            List("blockIO.throttleWriteBpsDevice", b.ThrottleWriteBpsDevice);
            List("blockIO.throttleReadIOPSDevice", b.ThrottleReadIOPSDevice);
            List("blockIO.throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice);
        }
        List("hugepageLimits", r.HugepageLimits);
        if (r.Network is { } n)
        {
            Value("network.classID", n.ClassID);
            List("network.priorities", n.Priorities);
        }
        List("rdma", r.Rdma);
        List("unified", r.Unified);
        return found;
    }

    /// <summary>Throws for the first set field, naming it and its value.</summary>
    public static void Refuse(LinuxResources? r)
    {
        var found = Find(r);
        if (found.Count == 0)
            return;
        var (field, value) = found[0];
        string more = found.Count > 1 ? $" (and {found.Count - 1} more: {string.Join(", ", found.Skip(1).Select(f => f.Field))})" : "";
        throw new CgroupException($"{field} is not supported yet (value {value}){more}");
    }

    static string Format<T>(T value) where T : struct =>
        value is bool flag ? (flag ? "true" : "false") : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
}
