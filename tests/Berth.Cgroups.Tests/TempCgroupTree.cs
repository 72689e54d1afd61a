namespace Berth.Cgroups.Tests;

/// <summary>Says "cgroupfs" for existing directories below the given fake mount points, like statfs would.</summary>
sealed class FakeCgroupFs(params string[] mountPoints) : ICgroupFs
{
    public bool IsCgroupFs(string path) =>
        Directory.Exists(path) && mountPoints.Any(m => path == m || path.StartsWith(m + "/", StringComparison.Ordinal));
}

/// <summary>
/// A temp directory laid out like a hybrid host: v1 memory (caller in /parent) and devices, plus cgroup2 at
/// unified, all "mounted" (the fake fs says so); "plain" is a directory outside any mount.
/// </summary>
sealed class TempCgroupTree : IDisposable
{
    public TempCgroupTree(bool withUnmountedHierarchy = false)
    {
        Root = Directory.CreateTempSubdirectory("berth-cgtest-").FullName;
        foreach (string dir in (string[])["memory/parent", "devices", "unified", "plain"])
            Directory.CreateDirectory(Path.Combine(Root, dir));
        string mountinfo =
            $"30 22 0:31 / {Root}/memory rw - cgroup cgroup rw,memory\n" +
            $"31 22 0:32 / {Root}/devices rw - cgroup cgroup rw,devices\n" +
            (withUnmountedHierarchy ? $"32 22 0:33 / {Root}/plain rw - cgroup cgroup rw,pids\n" : "") +
            $"33 22 0:34 / {Root}/unified rw - cgroup2 cgroup2 rw\n";
        string cgroup = (withUnmountedHierarchy ? "3:pids:/\n" : "") + "2:devices:/\n1:memory:/parent\n0::/\n";
        Host = CgroupHost.Parse(mountinfo, cgroup);
        Fs = new FakeCgroupFs($"{Root}/memory", $"{Root}/devices", $"{Root}/unified");
    }

    public string Root { get; }
    public CgroupHost Host { get; }
    public FakeCgroupFs Fs { get; }

    public string this[string relative] => Path.Combine(Root, relative);

    /// <summary>Every directory below the tree, relative, sorted: what a test compares before and after.</summary>
    public string[] AllDirectories() =>
        Directory.GetDirectories(Root, "*", SearchOption.AllDirectories).Select(d => d[(Root.Length + 1)..]).Order().ToArray();

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
