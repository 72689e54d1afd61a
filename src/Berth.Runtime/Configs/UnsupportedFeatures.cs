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
        void AddLsm(bool present, string path, string what, Lsm lsm)
        {
            if (present && !IsEnabled(lsm)) found.Add($"{path}: {what} was asked for, but {lsm} is not enabled on this host");
            else Add(present, path, what);
        }

        var p = spec.Process;
        Add(p?.Scheduler is not null, "$.process.scheduler", "a scheduling policy");
        Add(p?.IoPriority is not null, "$.process.ioPriority", "an I/O priority");
        Add(p?.ExecCpuAffinity is { Count: > 0 }, "$.process.execCPUAffinity", "a CPU affinity");
        // LSMs: runc 1.1.5 fails these too on a host without the LSM (apparmorProfile: "write /proc/self/attr/exec:
        // invalid argument"; selinuxLabel: "selinux is disabled or not supported"; mountLabel: the context= mount
        // option is refused), so a missing LSM is a refusal that says so, never a label silently not applied.
        AddLsm(!string.IsNullOrEmpty(p?.ApparmorProfile), "$.process.apparmorProfile", "an AppArmor profile", Lsm.AppArmor);
        AddLsm(!string.IsNullOrEmpty(p?.SelinuxLabel), "$.process.selinuxLabel", "an SELinux label", Lsm.SELinux);

        var l = spec.Linux;
        Add(l?.Personality is not null, "$.linux.personality", "an execution domain (personality)");
        Add(l?.IntelRdt is not null, "$.linux.intelRdt", "Intel RDT");
        AddLsm(!string.IsNullOrEmpty(l?.MountLabel), "$.linux.mountLabel", "an SELinux mount label", Lsm.SELinux);

        for (int i = 0; i < (spec.Mounts?.Count ?? 0); i++)
        {
            var m = spec.Mounts![i];
            Add(m.UidMappings is { Count: > 0 } || m.GidMappings is { Count: > 0 }, $"$.mounts[{i}]", "an idmapped mount (uidMappings/gidMappings)");
        }
        return found;
    }

    enum Lsm { AppArmor, SELinux }

    // What runc's own checks look at: AppArmor's module parameter, and a mounted selinuxfs.
    static bool IsEnabled(Lsm lsm) => lsm switch
    {
        Lsm.AppArmor => ReadOrEmpty("/sys/module/apparmor/parameters/enabled").StartsWith('Y'),
        _ => File.Exists("/sys/fs/selinux/enforce"),
    };

    static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
