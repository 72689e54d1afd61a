using System.Globalization;

namespace Berth.Cgroups;

/// <summary>
/// The huge page sizes as the hugetlb controller names its files ("2MB", "1GB", "64KB"), checked against the
/// sizes the kernel offers (/sys/kernel/mm/hugepages/hugepages-&lt;N&gt;kB), so that an unsupported size is
/// refused by name before anything is written rather than as a missing cgroup file.
/// </summary>
public static class HugePageSizes
{
    const string SysDirectory = "/sys/kernel/mm/hugepages";

    /// <summary>The host's sizes in the controller's naming; empty when the kernel has no huge pages.</summary>
    public static IReadOnlyList<string> Supported(string sysDirectory = SysDirectory)
    {
        if (!Directory.Exists(sysDirectory))
            return [];
        var sizes = new List<(long Kb, string Name)>();
        foreach (string dir in Directory.GetDirectories(sysDirectory, "hugepages-*kB"))
        {
            string number = Path.GetFileName(dir)["hugepages-".Length..^"kB".Length];
            if (long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
                sizes.Add((kb, Name(kb)));
        }
        return sizes.OrderBy(s => s.Kb).Select(s => s.Name).ToList();
    }

    /// <summary>1024 kB units as the kernel's hugetlb_cgroup names them: the largest unit that divides exactly.</summary>
    public static string Name(long kb) =>
        kb % (1024 * 1024) == 0 ? $"{kb / (1024 * 1024)}GB" : kb % 1024 == 0 ? $"{kb / 1024}MB" : $"{kb}KB";

    /// <summary>Why <paramref name="size"/> is not spelt as the controller names sizes; null when it is.</summary>
    public static string? SpellingProblem(string? size) =>
        size is null || size.Length < 3 || !size.EndsWith('B') || !"KMG".Contains(size[^2]) || !size[..^2].All(char.IsAsciiDigit)
            ? $"\"{size}\" is not a page size such as 2MB or 1GB"
            : null;

    /// <summary>Validates the spelling of <paramref name="size"/> and that this host offers it; returns it.</summary>
    public static string Check(string size, string field, string sysDirectory = SysDirectory)
    {
        if (SpellingProblem(size) is { } problem)
            throw new CgroupException($"{field} {problem}");
        var supported = Supported(sysDirectory);
        if (!supported.Contains(size, StringComparer.Ordinal))
            throw new CgroupException(supported.Count == 0
                ? $"{field} \"{size}\": this kernel offers no huge pages ({sysDirectory} is missing)"
                : $"{field} \"{size}\" is not a huge page size of this host (it has {string.Join(", ", supported)}, from {sysDirectory})");
        return size;
    }
}
