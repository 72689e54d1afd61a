using Berth.Linux;

namespace Berth.Cgroups;

/// <summary>
/// Tells whether a directory lives on a cgroup filesystem. The manager asks before every mkdir, write and
/// rmdir, because a path that misses the cgroup mount (a typo, an unmounted hierarchy, a hidden cgroup2 mount)
/// lands on the /sys/fs/cgroup tmpfs and would silently create plain directories. Unit tests substitute a fake.
/// </summary>
public interface ICgroupFs
{
    bool IsCgroupFs(string path);
}

/// <summary>statfs(2) and the cgroup v1 / cgroup2 superblock magic numbers.</summary>
public sealed class StatfsCgroupFs : ICgroupFs
{
    public const long CgroupSuperMagic = 0x27e0eb, Cgroup2SuperMagic = 0x63677270;

    public static readonly StatfsCgroupFs Instance = new();

    /// <summary>False when the path does not exist or is on another filesystem.</summary>
    public bool IsCgroupFs(string path)
    {
        if (Libc.statfs(path, out var st) != 0)
            return false;
        return st.Type is CgroupSuperMagic or Cgroup2SuperMagic;
    }
}
