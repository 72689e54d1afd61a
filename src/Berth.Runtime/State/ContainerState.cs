namespace Berth.Runtime.State;

/// <summary>What the runtime keeps in &lt;root&gt;/&lt;id&gt;/state.json between commands.</summary>
public sealed class ContainerState
{
    public required string Id { get; init; }
    public int InitPid { get; set; }
    /// <summary>Start time of the init process (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it.</summary>
    public ulong InitStartTime { get; set; }
    /// <summary>
    /// False from the moment create records init's pid until init said "ready": a container whose create died in
    /// between is stopped, whatever its half-set-up init still does (it ends by itself; delete --force kills it).
    /// Null in state files written before the field existed: ready.
    /// </summary>
    public bool? Ready { get; set; }
    public required string Bundle { get; init; }
    public required string Rootfs { get; init; }
    public DateTimeOffset Created { get; init; }
    public string? Owner { get; init; }
    public Dictionary<string, string> CgroupPaths { get; init; } = [];
    /// <summary>The cgroup directories create made (parents included), so delete removes exactly those.</summary>
    public List<string> CreatedCgroups { get; set; } = [];
    public Dictionary<string, string>? Annotations { get; init; }
    /// <summary>The spec's hooks: poststart and poststop run from later commands.</summary>
    public Oci.Hooks? Hooks { get; init; }
}
