using Berth.Oci;

namespace Berth.Engine;

/// <summary>The capability set of a container's process, as dockerd computes it from its defaults, CapAdd and CapDrop.</summary>
public static class Capabilities
{
    /// <summary>dockerd's default set, in its order (CapEff a80425fb).</summary>
    public static readonly IReadOnlyList<string> Default =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>
    /// What --privileged and --cap-add ALL give: every capability up to CAP_AUDIT_READ, in kernel order, as dockerd
    /// 20.10 lists them. It predates CAP_PERFMON, CAP_BPF and CAP_CHECKPOINT_RESTORE; Berth accepts those by name.
    /// </summary>
    public static readonly IReadOnlyList<string> All = [.. LinuxNames.Capabilities.Take(38)];

    /// <summary>
    /// dockerd's rule: privileged gets <see cref="All"/>; CapAdd ALL gives all but CapDrop; CapDrop ALL gives
    /// exactly CapAdd; otherwise the defaults minus CapDrop, then CapAdd appended (a capability already in the
    /// defaults is listed twice, as dockerd lists it).
    /// </summary>
    public static List<string> Tweak(IReadOnlyList<string>? capAdd, IReadOnlyList<string>? capDrop, bool privileged)
    {
        if (privileged) return [.. All];
        var add = Normalize(capAdd, "CapAdd");
        var drop = Normalize(capDrop, "CapDrop");
        if (add.Contains("ALL")) return [.. All.Where(c => !drop.Contains(c))];
        if (drop.Contains("ALL")) return [.. add];
        return [.. Default.Where(c => !drop.Contains(c)), .. add];
    }

    /// <summary>"net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN (older clients send the short form).</summary>
    static List<string> Normalize(IReadOnlyList<string>? names, string field)
    {
        List<string> result = [];
        foreach (var raw in names ?? [])
        {
            var name = raw.Trim().ToUpperInvariant();
            if (name == "ALL") { result.Add(name); continue; }
            if (!name.StartsWith("CAP_", StringComparison.Ordinal)) name = "CAP_" + name;
            if (!LinuxNames.TryGetCapability(name, out _))
                throw new ContainerConfigException($"invalid {field}: unknown capability: \"{name}\"");
            result.Add(name);
        }
        return result;
    }
}
