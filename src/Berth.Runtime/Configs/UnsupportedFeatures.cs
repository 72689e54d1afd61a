using Berth.Oci;

namespace Berth.Runtime.Configs;

/// <summary>
/// Spec fields this berth-runtime does not act on yet. Each is refused by name rather than ignored: a container
/// that silently lacks its scheduling policy or LSM label is worse than one that does not start.
/// The list shrinks as the features land.
/// </summary>
public static class UnsupportedFeatures
{
    public static IReadOnlyList<string> Find(Spec spec)
    {
        var found = new List<string>();
        void Add(bool present, string path, string what)
        {
            if (present) found.Add($"{path}: {what} is not supported by this berth-runtime yet");
        }

        var p = spec.Process;
        Add(p?.Scheduler is not null, "$.process.scheduler", "a scheduling policy");
        Add(p?.IoPriority is not null, "$.process.ioPriority", "an I/O priority");
        Add(p?.ExecCpuAffinity is { Count: > 0 }, "$.process.execCPUAffinity", "a CPU affinity");
        Add(!string.IsNullOrEmpty(p?.ApparmorProfile), "$.process.apparmorProfile", "an AppArmor profile (and AppArmor is not enabled on this host)");
        Add(!string.IsNullOrEmpty(p?.SelinuxLabel), "$.process.selinuxLabel", "an SELinux label");

        var l = spec.Linux;
        Add(l?.Personality is not null, "$.linux.personality", "an execution domain (personality)");
        Add(l?.IntelRdt is not null, "$.linux.intelRdt", "Intel RDT");
        Add(!string.IsNullOrEmpty(l?.MountLabel), "$.linux.mountLabel", "an SELinux mount label");

        for (int i = 0; i < (spec.Mounts?.Count ?? 0); i++)
        {
            var m = spec.Mounts![i];
            Add(m.UidMappings is { Count: > 0 } || m.GidMappings is { Count: > 0 }, $"$.mounts[{i}]", "an idmapped mount (uidMappings/gidMappings)");
        }
        return found;
    }
}
