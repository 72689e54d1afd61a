using System.Text;

namespace Berth.Cgroups;

/// <summary>How the host's cgroup hierarchies are laid out.</summary>
public enum CgroupMode
{
    /// <summary>Only cgroup v1 hierarchies are mounted.</summary>
    V1,
    /// <summary>v1 hierarchies carry the controllers; a cgroup2 mount (often /sys/fs/cgroup/unified) is joined for tracking.</summary>
    Hybrid,
    /// <summary>Only the unified cgroup2 hierarchy is mounted (v1 named hierarchies, if any, are ignored).</summary>
    V2,
}

/// <summary>
/// One mounted cgroup hierarchy. <paramref name="Controllers"/> is empty for cgroup2 (its controllers are not
/// per-mount) and for a named v1 hierarchy, whose name is in <paramref name="Name"/> (e.g. "systemd" for
/// "name=systemd"). <paramref name="CallerCgroup"/> is this process's cgroup in the hierarchy, as
/// /proc/self/cgroup shows it; <paramref name="MountRoot"/> is the cgroup the mount exposes at its mount point
/// (mountinfo field 4, "/" unless a sub-cgroup was bind-mounted or a cgroup namespace is in effect).
/// </summary>
public sealed record CgroupHierarchy(
    string MountPoint,
    bool IsV2,
    IReadOnlyList<string> Controllers,
    string? Name,
    string CallerCgroup,
    string MountRoot = "/")
{
    /// <summary>The directory of the caller's own cgroup in this hierarchy.</summary>
    public string CallerDirectory
    {
        get
        {
            string root = MountRoot.TrimEnd('/');
            string caller = CallerCgroup;
            if (root.Length > 0)
            {
                if (caller != root && !caller.StartsWith(root + "/", StringComparison.Ordinal))
                    throw new CgroupException(
                        $"the caller's cgroup {caller} is outside the cgroup {MountRoot} mounted at {MountPoint}");
                caller = caller[root.Length..];
            }
            return CgroupPath.Join(MountPoint, caller);
        }
    }

    /// <summary>The keys this hierarchy gets in <see cref="CgroupManager.Paths"/>, one per v1 controller.</summary>
    internal IEnumerable<string> Keys(CgroupMode mode)
    {
        if (IsV2)
            return [mode == CgroupMode.V2 ? CgroupManager.V2Key : CgroupManager.HybridUnifiedKey];
        return Name is null ? Controllers : [.. Controllers, "name=" + Name];
    }
}

/// <summary>What cgroup hierarchies the host has mounted, from /proc/self/mountinfo and /proc/self/cgroup.</summary>
public sealed class CgroupHost
{
    CgroupHost(IReadOnlyList<CgroupHierarchy> hierarchies, CgroupMode mode)
    {
        Hierarchies = hierarchies;
        Mode = mode;
    }

    /// <summary>Each v1 hierarchy (in mountinfo order) and then the cgroup2 one, if mounted.</summary>
    public IReadOnlyList<CgroupHierarchy> Hierarchies { get; }

    public CgroupMode Mode { get; }

    public CgroupHierarchy? Unified => Hierarchies.FirstOrDefault(h => h.IsV2);

    /// <summary>The v1 hierarchy that carries <paramref name="controller"/> ("memory", "name=systemd"), if mounted.</summary>
    public CgroupHierarchy? V1(string controller) =>
        Hierarchies.FirstOrDefault(h => !h.IsV2 && h.Keys(Mode).Contains(controller));

    /// <summary>Reads this process's view of the real host.</summary>
    public static CgroupHost Detect() =>
        Parse(File.ReadAllText("/proc/self/mountinfo"), File.ReadAllText("/proc/self/cgroup"));

    /// <summary>
    /// Builds the host view from the text of /proc/self/mountinfo and /proc/self/cgroup. A v1 mount belongs to
    /// the /proc/self/cgroup line whose controller list it carries in its super options; mounts without such a
    /// line (or repeated mounts of a hierarchy already seen) are skipped, like lines for unmounted hierarchies.
    /// </summary>
    public static CgroupHost Parse(string mountinfo, string procSelfCgroup)
    {
        var lines = ParseProcCgroup(procSelfCgroup);
        var v1 = new List<CgroupHierarchy>();
        CgroupHierarchy? v2 = null;
        var seenV1 = new HashSet<string>(StringComparer.Ordinal);

        var mounts = mountinfo.Split('\n').Select(ParseMountLine).OfType<MountLine>().ToList();
        for (int i = 0; i < mounts.Count; i++)
        {
            var mount = mounts[i];
            if (IsCovered(mount, mounts.Skip(i + 1)))
                continue;
            if (mount.FsType == "cgroup2")
            {
                if (v2 is null && lines.Unified is { } unifiedCgroup && IsUnder(unifiedCgroup, mount.Root))
                    v2 = new CgroupHierarchy(mount.MountPoint, true, [], null, unifiedCgroup, mount.Root);
                continue;
            }
            if (mount.FsType != "cgroup")
                continue;

            var options = mount.SuperOptions.Split(',').ToHashSet(StringComparer.Ordinal);
            foreach (var line in lines.V1)
            {
                if (!line.Names.All(options.Contains) || !seenV1.Add(line.Key))
                    continue;
                if (!IsUnder(line.Cgroup, mount.Root))
                {
                    seenV1.Remove(line.Key); // a bind mount of a sub-cgroup; a later full mount may follow
                    continue;
                }
                v1.Add(new CgroupHierarchy(mount.MountPoint, false, line.Controllers, line.Name, line.Cgroup, mount.Root));
                break;
            }
        }

        CgroupMode mode;
        if (v2 is not null && v1.All(h => h.Controllers.Count == 0))
        {
            mode = CgroupMode.V2;
            v1.Clear(); // runc's unified mode ignores named v1 hierarchies too
        }
        else
            mode = v2 is null ? CgroupMode.V1 : CgroupMode.Hybrid;
        if (v1.Count == 0 && v2 is null)
            throw new CgroupException("no cgroup hierarchy is mounted (no cgroup or cgroup2 entry in /proc/self/mountinfo matches /proc/self/cgroup)");

        if (v2 is not null)
            v1.Add(v2);
        return new CgroupHost(v1, mode);
    }

    static bool IsUnder(string cgroup, string root) =>
        root == "/" || cgroup == root || cgroup.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal);

    sealed record ProcCgroupLine(string Key, IReadOnlyList<string> Controllers, string? Name, string Cgroup)
    {
        /// <summary>The entries as they appear in the mount's super options ("cpu", "name=systemd").</summary>
        public IEnumerable<string> Names => Name is null ? Controllers : [.. Controllers, "name=" + Name];
    }

    sealed record ProcCgroup(List<ProcCgroupLine> V1, string? Unified);

    static ProcCgroup ParseProcCgroup(string text)
    {
        var v1 = new List<ProcCgroupLine>();
        string? unified = null;
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            // "hierarchy-id:controller-list:path"; the path itself may contain ':'.
            int first = line.IndexOf(':');
            int second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0)
                throw new CgroupException($"/proc/self/cgroup: malformed line \"{line}\"");
            string list = line[(first + 1)..second];
            string path = line[(second + 1)..];
            if (line[..first] == "0" && list.Length == 0)
            {
                unified = path;
                continue;
            }
            var controllers = new List<string>();
            string? name = null;
            foreach (string item in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (item.StartsWith("name=", StringComparison.Ordinal))
                    name = item["name=".Length..];
                else
                    controllers.Add(item);
            }
            if (controllers.Count > 0 || name is not null)
                v1.Add(new ProcCgroupLine(list, controllers, name, path));
        }
        return new ProcCgroup(v1, unified);
    }

    sealed record MountLine(string Root, string MountPoint, string FsType, string SuperOptions);

    /// <summary>
    /// A mount that a later one (mountinfo lists them in mount order) stacks on, at its own mount point or above
    /// it, is not what a path there reaches: e.g. a tmpfs mounted over /sys/fs/cgroup/unified to hide cgroup2.
    /// </summary>
    static bool IsCovered(MountLine mount, IEnumerable<MountLine> later) =>
        later.Any(m => m.MountPoint == mount.MountPoint || (m.MountPoint != "/" && IsUnder(mount.MountPoint, m.MountPoint)));

    // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    static MountLine? ParseMountLine(string line)
    {
        string[] fields = line.Split(' ');
        int dash = Array.IndexOf(fields, "-");
        if (dash < 6 || fields.Length < dash + 4)
            return null;
        return new MountLine(Unescape(fields[3]), Unescape(fields[4]), fields[dash + 1], fields[dash + 3]);
    }

    /// <summary>mountinfo writes space, tab, newline and backslash in paths as \ooo octal escapes.</summary>
    static string Unescape(string field)
    {
        if (!field.Contains('\\'))
            return field;
        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                bytes.Add((byte)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
                i += 3;
            }
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    static bool IsOctal(char c) => c is >= '0' and <= '7';
}
