// Temporary until the cgroups branch lands.
namespace Berth.Cgroups;
public enum CgroupMode { V1, Hybrid, V2 }
public sealed record CgroupHierarchy(string MountPoint, bool IsV2, IReadOnlyList<string> Controllers, string? Name, string CallerCgroup);
public sealed class CgroupHost
{
    public static CgroupHost Detect() => new();
    public IReadOnlyList<CgroupHierarchy> Hierarchies { get; } = [];
    public CgroupMode Mode { get; }
}
public sealed class CgroupManager
{
    public static CgroupManager ForContainer(CgroupHost host, string id, string? cgroupsPath) => new() { Paths = new Dictionary<string, string> { [id] = cgroupsPath ?? host.ToString()! } };
    public IReadOnlyDictionary<string, string> Paths { get; private init; } = new Dictionary<string, string>();
    public void Create() { }
    public void Apply(Berth.Oci.LinuxResources? resources) { _ = resources; }
    public void AddProcess(int pid) { _ = pid; }
    public IReadOnlyList<int> Pids() => [];
    public void Destroy() { }
    public static CgroupManager Load(IReadOnlyDictionary<string, string> paths) => new() { Paths = paths };
}
public sealed class CgroupException(string message) : Exception(message);
