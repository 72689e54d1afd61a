namespace Berth.Cgroups;

/// <summary>
/// How often a container's limits stopped something, from the cgroup's own counters: what a process that died of it
/// cannot report itself. Given a container's <see cref="CgroupManager.Paths"/>: the v1 controller's cgroup (v1 and
/// hybrid hosts), else a pure v2 host's cgroup; 0 where the file does not say.
/// </summary>
public static class LimitEvents
{
    /// <summary>Processes the OOM killer ended ("oom_kill" of memory.oom_control, or of v2's memory.events).</summary>
    public static ulong OomKills(IReadOnlyDictionary<string, string> paths) =>
        Counter(paths, "memory", paths.ContainsKey("memory") ? "memory.oom_control" : "memory.events", "oom_kill");

    /// <summary>Forks refused for pids.max ("max" of pids.events, v1 and v2 alike).</summary>
    public static ulong PidsLimitHits(IReadOnlyDictionary<string, string> paths) => Counter(paths, "pids", "pids.events", "max");

    static ulong Counter(IReadOnlyDictionary<string, string> paths, string controller, string file, string key) =>
        paths.TryGetValue(controller, out string? v1) ? StatsReader.KeyValues(v1, file).GetValueOrDefault(key)
        : paths.TryGetValue(CgroupManager.V2Key, out string? v2) ? StatsReader.KeyValues(v2, file).GetValueOrDefault(key)
        : 0;
}
