using Berth.Oci;

namespace Berth.Runtime;

/// <summary>
/// The device cgroup rules a container gets: the spec's own rules, then the devices every container needs
/// (runc's default allow list: mknod of anything, the standard character devices, the console, ptys, tun). The
/// cgroup manager starts from deny-all, so these are what the container may open. A linux.devices node gets no
/// rule of its own, as with runc: the spec's rules decide (engines add an allow rule per device they pass).
/// </summary>
public static class DeviceCgroupRules
{
    static readonly LinuxDeviceCgroup[] Defaults =
    [
        Allow("c", null, null, "m"),
        Allow("b", null, null, "m"),
        Allow("c", 1, 3, "rwm"),    // /dev/null
        Allow("c", 1, 8, "rwm"),    // /dev/random
        Allow("c", 1, 7, "rwm"),    // /dev/full
        Allow("c", 5, 0, "rwm"),    // /dev/tty
        Allow("c", 1, 5, "rwm"),    // /dev/zero
        Allow("c", 1, 9, "rwm"),    // /dev/urandom
        Allow("c", 5, 1, "rwm"),    // /dev/console
        Allow("c", 136, null, "rwm"), // /dev/pts/*
        Allow("c", 5, 2, "rwm"),    // /dev/ptmx
        Allow("c", 10, 200, "rwm"), // /dev/net/tun
    ];

    /// <summary>A copy of the spec's resources with the full device rule list; null stays null only without devices.</summary>
    public static LinuxResources WithDefaults(LinuxResources? resources)
    {
        var rules = new List<LinuxDeviceCgroup>(resources?.Devices ?? []);
        rules.AddRange(Defaults);
        return new LinuxResources
        {
            Devices = rules,
            Memory = resources?.Memory,
            Cpu = resources?.Cpu,
            Pids = resources?.Pids,
            BlockIO = resources?.BlockIO,
            HugepageLimits = resources?.HugepageLimits,
            Network = resources?.Network,
            Rdma = resources?.Rdma,
            Unified = resources?.Unified,
        };
    }

    static LinuxDeviceCgroup Allow(string type, long? major, long? minor, string access) =>
        new() { Allow = true, Type = type, Major = major, Minor = minor, Access = access };
}
