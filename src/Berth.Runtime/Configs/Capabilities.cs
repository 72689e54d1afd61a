using Berth.Oci;

namespace Berth.Runtime.Configs;

/// <summary>Capability names to numbers and bit masks (bit N = capability N, as capset(2) and /proc/PID/status use).</summary>
public static class Capabilities
{
    /// <summary>The highest capability number Berth knows (CAP_CHECKPOINT_RESTORE).</summary>
    public static int Last => LinuxNames.Capabilities.Count - 1;

    /// <summary>"CAP_SYS_ADMIN" (any letter case, CAP_ prefix required) to 21.</summary>
    public static bool TryParse(string name, out int cap) => LinuxNames.TryGetCapability(name, out cap);

    /// <exception cref="ArgumentException">A name that is not a capability; the message names it.</exception>
    public static ulong ToMask(IEnumerable<string>? names)
    {
        ulong mask = 0;
        foreach (var name in names ?? [])
        {
            if (!TryParse(name, out var cap))
                throw new ArgumentException($"unknown capability \"{name}\"");
            mask |= 1UL << cap;
        }
        return mask;
    }

    public static string NameOf(int cap) =>
        cap >= 0 && cap <= Last ? LinuxNames.Capabilities[cap] : throw new ArgumentOutOfRangeException(nameof(cap), cap, "no such capability");

    /// <summary>The names of the bits set in <paramref name="mask"/>, lowest first.</summary>
    public static IEnumerable<string> NamesOf(ulong mask)
    {
        for (var cap = 0; cap <= Last; cap++)
        {
            if ((mask & (1UL << cap)) != 0)
                yield return LinuxNames.Capabilities[cap];
        }
    }
}
