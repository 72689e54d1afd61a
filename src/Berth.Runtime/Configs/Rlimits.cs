using Berth.Oci;

namespace Berth.Runtime.Configs;

/// <summary>RLIMIT_* names to resource numbers (the generic Linux numbering, as on x86-64 and arm64).</summary>
public static class Rlimits
{
    public static bool TryGetResource(string name, out int resource) => LinuxNames.TryGetRlimit(name, out resource);

    /// <exception cref="ArgumentException">The name is not an RLIMIT_* the kernel knows.</exception>
    public static int ResourceOf(string name) =>
        TryGetResource(name, out var r) ? r : throw new ArgumentException($"unknown rlimit type \"{name}\"");

    public static string NameOf(int resource) =>
        resource >= 0 && resource < LinuxNames.Rlimits.Count
            ? LinuxNames.Rlimits[resource]
            : throw new ArgumentOutOfRangeException(nameof(resource), resource, "no such rlimit");

    /// <summary>Number of rlimits the kernel defines (RLIM_NLIMITS).</summary>
    public static int Count => LinuxNames.Rlimits.Count;
}
