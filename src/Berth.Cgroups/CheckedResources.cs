using Berth.Oci;

namespace Berth.Cgroups;

/// <summary>One value of linux.resources that no host would take: <paramref name="Field"/> is its JSON path
/// ("linux.resources.memory.swap"), <paramref name="Problem"/> a sentence that starts with the value.</summary>
public readonly record struct ResourceProblem(string Field, string Problem)
{
    public override string ToString() => $"{Field} {Problem}";
}

/// <summary>
/// linux.resources whose values were checked before anything is made: `create` gets one from the converter, before
/// it claims the id or makes a cgroup, and `update` makes one before it writes. The checks need no host: ranges the
/// kernel refuses (cpu.shares, the CFS period and quota, blkio weights), memory+swap below memory, cpuset lists,
/// realtime runtime over its period, names (huge page sizes, unified files, device rules). What depends on the host
/// (a controller, a file, a huge page size it lacks) is checked by <see cref="CgroupManager.Preflight"/> and the
/// planners. What runc accepts stays accepted: 0 is "unset" where runc reads it so, kernel memory is ignored with a
/// warning when the limits are applied. <see cref="Spec"/> is the caller's object: it must not change afterwards.
/// </summary>
public sealed class CheckedResources
{
    const string R = "linux.resources";
    const ulong MinPeriod = 1000, MaxPeriod = 1_000_000; // the kernel's CFS bounds: 1 ms to 1 s
    const long MinQuota = 1000;

    CheckedResources(LinuxResources spec) => Spec = spec;

    public LinuxResources Spec { get; }

    /// <summary>For a new container.</summary>
    /// <exception cref="CgroupException">Every problem, each with its JSON path.</exception>
    public static CheckedResources ForCreate(LinuxResources? resources) => Check(resources ?? new LinuxResources(), update: false);

    /// <summary>For `update`: a swap limit may come alone (the kernel compares it with the current memory limit).</summary>
    /// <exception cref="CgroupException">Every problem, each with its JSON path.</exception>
    public static CheckedResources ForUpdate(LinuxResources resources) => Check(resources, update: true);

    static CheckedResources Check(LinuxResources resources, bool update) =>
        TryCheck(resources, update, out var problems) ?? throw new CgroupException(string.Join("; ", problems));

    /// <summary>The checked resources, or null and every problem of <paramref name="r"/> (for a caller that reports
    /// them its own way, as the converter does with config.json's JSON paths).</summary>
    public static CheckedResources? TryCheck(LinuxResources r, bool update, out IReadOnlyList<ResourceProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(r);
        problems = Problems(r, update);
        return problems.Count == 0 ? new CheckedResources(r) : null;
    }

    static List<ResourceProblem> Problems(LinuxResources r, bool update)
    {
        var problems = new List<ResourceProblem>();
        void Refuse(string field, string problem) => problems.Add(new ResourceProblem($"{R}.{field}", problem));

        for (int i = 0; i < (r.Devices?.Count ?? 0); i++)
        {
            try
            {
                DeviceRules.Normalize(r.Devices![i], i);
            }
            catch (CgroupException e)
            {
                problems.Add(Split(e.Message, $"{R}.devices[{i}]"));
            }
        }
        if (r.Memory is { } m)
            Memory(m, update, Refuse);
        if (r.Cpu is { } c)
            Cpu(c, Refuse);
        if (r.BlockIO is { } b)
        {
            Weight(b.Weight, "blockIO.weight", Refuse);
            Weight(b.LeafWeight, "blockIO.leafWeight", Refuse);
            for (int i = 0; i < (b.WeightDevice?.Count ?? 0); i++)
            {
                Weight(b.WeightDevice![i].Weight, $"blockIO.weightDevice[{i}].weight", Refuse);
                Weight(b.WeightDevice[i].LeafWeight, $"blockIO.weightDevice[{i}].leafWeight", Refuse);
            }
        }
        for (int i = 0; i < (r.HugepageLimits?.Count ?? 0); i++)
        {
            if (HugePageSizes.SpellingProblem(r.HugepageLimits![i].PageSize) is { } problem)
                Refuse($"hugepageLimits[{i}].pageSize", problem);
        }
        foreach (string file in r.Unified?.Keys ?? Enumerable.Empty<string>())
        {
            if (UnifiedKeyProblem(file) is { } problem)
                Refuse($"unified[\"{file}\"]", problem);
        }
        return problems;
    }

    static void Memory(LinuxMemory m, bool update, Action<string, string> refuse)
    {
        long limit = m.Limit ?? 0, swap = m.Swap ?? 0;
        if (limit < -1)
            refuse("memory.limit", $"{limit} is negative (-1 means unlimited, 0 or leaving it out keeps the current limit)");
        if (m.Reservation is < -1 and var reservation)
            refuse("memory.reservation", $"{reservation} is negative (-1 means unlimited)");
        if (swap < -1)
            refuse("memory.swap", $"{swap} is negative (-1 means unlimited)");
        else if (swap > 0 && limit > 0 && swap < limit)
            refuse("memory.swap", $"{swap} is below linux.resources.memory.limit {limit} (swap is the limit of memory+swap)");
        else if (swap > 0 && !update && limit is 0 or -1)
            refuse("memory.swap", $"{swap} needs a linux.resources.memory.limit no larger than it (memory+swap cannot be below memory)");
        if (m.Swappiness is > 100 and var swappiness)
            refuse("memory.swappiness", $"{swappiness} is outside 0-100");
    }

    static void Cpu(LinuxCpu c, Action<string, string> refuse)
    {
        // 0 is unset for shares, period and quota, as runc reads them.
        if (c.Shares is { } shares and not 0 && shares is < CgroupValues.MinShares or > CgroupValues.MaxShares)
            refuse("cpu.shares", $"{shares} is outside {CgroupValues.MinShares}-{CgroupValues.MaxShares}");
        if (c.Period is { } period and not 0 && period is < MinPeriod or > MaxPeriod)
            refuse("cpu.period", $"{period} is outside {MinPeriod}-{MaxPeriod} (microseconds)");
        // Any negative quota is "no limit" to the kernel; a positive one below 1 ms is refused by it.
        if (c.Quota is > 0 and < MinQuota and var quota)
            refuse("cpu.quota", $"{quota} is below the kernel's minimum of {MinQuota} microseconds (-1 means no limit)");
        if (c.RealtimeRuntime is < -1 and var runtime)
            refuse("cpu.realtimeRuntime", $"{runtime} is negative (-1 means no limit)");
        else if (c.RealtimeRuntime is > 0 and var rt && c.RealtimePeriod is > 0 and var rtPeriod && (ulong)rt > rtPeriod)
            refuse("cpu.realtimeRuntime", $"{rt} is longer than linux.resources.cpu.realtimePeriod {rtPeriod}");
        if (CpuListProblem(c.Cpus) is { } cpus)
            refuse("cpu.cpus", cpus);
        if (CpuListProblem(c.Mems) is { } mems)
            refuse("cpu.mems", mems);
    }

    /// <summary>runtime-spec: blkio weights range from 10 to 1000; 0 is unset, as in runc (dockerd always sends it).</summary>
    static void Weight(ushort? weight, string field, Action<string, string> refuse)
    {
        if (weight is { } w and not 0 && w is < CgroupValues.MinBlkioWeight or > CgroupValues.MaxBlkioWeight)
            refuse(field, $"{w} is outside the blkio weight range {CgroupValues.MinBlkioWeight}-{CgroupValues.MaxBlkioWeight}");
    }

    /// <summary>
    /// The kernel's list syntax for cpuset.cpus and cpuset.mems: comma-separated numbers and ranges "N-M", a range
    /// with an optional stride ":used/group" ("0-7:2/4"). Empty is unset.
    /// </summary>
    internal static string? CpuListProblem(string? list)
    {
        if (string.IsNullOrEmpty(list))
            return null;
        string bad = $"\"{list}\" is not a list such as 0-3,5 (numbers and ranges, separated by commas)";
        foreach (string group in list.Trim().Split(','))
        {
            string range = group, stride = "";
            if (group.IndexOf(':') is var colon and >= 0)
                (range, stride) = (group[..colon], group[(colon + 1)..]);
            string[] ends = range.Split('-');
            if (ends.Length > 2 || ends.Any(e => e.Length == 0 || !e.All(char.IsAsciiDigit)))
                return bad;
            if (ends.Length == 2 && (!ulong.TryParse(ends[0], out ulong from) || !ulong.TryParse(ends[1], out ulong to) || from > to))
                return bad;
            if (stride.Length > 0 || group.Contains(':'))
            {
                string[] parts = stride.Split('/');
                if (ends.Length != 2 || parts.Length != 2 || !uint.TryParse(parts[0], out uint used) || !uint.TryParse(parts[1], out uint size)
                    || used == 0 || used > size)
                    return bad;
            }
        }
        return null;
    }

    /// <summary>A unified key names one file in the container's own directory, not one the runtime manages.</summary>
    internal static string? UnifiedKeyProblem(string file)
    {
        if (file.Length == 0 || file.Contains('/') || file is "." or ".." || file.Any(char.IsControl))
            return $"\"{file}\" is not a cgroup file name";
        if (file.StartsWith("cgroup.", StringComparison.Ordinal) && file is not ("cgroup.max.depth" or "cgroup.max.descendants"))
            return $"{file} is managed by the runtime, not a resource";
        return null;
    }

    /// <summary>A device rule's message "linux.resources.devices[0].major -3 is negative..." as field and problem.</summary>
    static ResourceProblem Split(string message, string prefix)
    {
        int space = message.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 && message.StartsWith(prefix, StringComparison.Ordinal)
            ? new ResourceProblem(message[..space], message[(space + 1)..])
            : new ResourceProblem(prefix, message);
    }
}
