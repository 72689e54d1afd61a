using System.Globalization;

namespace Berth.Cgroups;

/// <summary>
/// The v1 → v2 value conversions crun documents (crun(1), "CGROUP v2"), and the formatting shared by both
/// planners. Pure functions, unit-tested.
/// </summary>
public static class CgroupValues
{
    public const ulong MinShares = 2, MaxShares = 262144, MaxWeight = 10000;
    public const int MinBlkioWeight = 10, MaxBlkioWeight = 1000;

    /// <summary>cpu.shares [2, 262144] → cpu.weight [1, 10000]: 1 + ((shares - 2) * 9999) / 262142.</summary>
    public static ulong SharesToWeight(ulong shares)
    {
        shares = Math.Clamp(shares, MinShares, MaxShares);
        return 1 + (shares - 2) * 9999 / 262142;
    }

    /// <summary>blkio.weight [10, 1000] → io.weight [1, 10000]: 1 + ((weight - 10) * 9999) / 990.</summary>
    public static ulong BlkioWeightToIoWeight(ushort weight, string field)
    {
        if (weight is < MinBlkioWeight or > MaxBlkioWeight)
            throw new CgroupException($"{field} {weight} is outside the blkio weight range {MinBlkioWeight}-{MaxBlkioWeight}");
        return 1 + (ulong)(weight - 10) * 9999 / 990;
    }

    /// <summary>
    /// OCI memory.swap is memory+swap (the v1 memsw limit); v2's memory.swap.max is swap alone. Returns null for
    /// "leave unset", -1 for "max". Rules as runc's: swap unset (0) with an unlimited memory limit means both
    /// unlimited; otherwise a swap limit needs a memory limit no larger than it.
    /// </summary>
    public static long? SwapToV2(long? swap, long? limit)
    {
        long s = swap ?? 0, m = limit ?? 0;
        if (m == -1 && s == 0)
            return -1;
        if (s is -1 or 0)
            return s == 0 ? null : -1;
        if (s < 0)
            throw new CgroupException($"linux.resources.memory.swap {s} is negative (-1 means unlimited)");
        if (m == 0)
            throw new CgroupException($"linux.resources.memory.swap {s}: a swap limit needs linux.resources.memory.limit too");
        if (m < 0)
            throw new CgroupException($"linux.resources.memory.limit {m} is negative (-1 means unlimited)");
        if (s < m)
            throw new CgroupException($"linux.resources.memory.swap {s} is below linux.resources.memory.limit {m} (swap is memory+swap)");
        return s - m;
    }

    /// <summary>A v2 limit: -1 (or any negative) is "max".</summary>
    public static string MaxOr(long value) => value < 0 ? "max" : Text(value);

    public static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Text(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
