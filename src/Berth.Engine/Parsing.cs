using System.Globalization;
using System.Text.RegularExpressions;
using Berth.Api;
using Berth.Oci;

namespace Berth.Engine;

/// <summary>The kernel's CPU and memory-node list form ("0-3,8"), as CpusetCpus and CpusetMems use it.</summary>
internal static class CpuList
{
    public static SortedSet<int> Parse(string list, string what)
    {
        var set = new SortedSet<int>();
        if (list.Trim().Length == 0) return set;
        foreach (var part in list.Split(','))
        {
            var range = part.Trim().Split('-');
            if (range.Length is < 1 or > 2 || !range.All(r => int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new ContainerConfigException($"Invalid value {list} for {what}: invalid format: {part.Trim()}");
            int from = int.Parse(range[0], CultureInfo.InvariantCulture), to = int.Parse(range[^1], CultureInfo.InvariantCulture);
            if (to < from) throw new ContainerConfigException($"Invalid value {list} for {what}: invalid range: {part.Trim()}");
            for (var i = from; i <= to; i++) set.Add(i);
        }
        return set;
    }
}

/// <summary>Signal names and numbers, as Config.StopSignal and the kill API take them ("SIGTERM", "TERM", "15").</summary>
public static class Signals
{
    static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
        "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>The signal's number (1-64: the real-time ones as "RTMIN+n" or their number).</summary>
    public static int Parse(string signal)
    {
        var s = signal.Trim().ToUpperInvariant();
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 64) return n;
        if (s.StartsWith("SIG", StringComparison.Ordinal)) s = s[3..];
        var index = Array.IndexOf(Names, s);
        if (index > 0) return index;
        if (s is "IOT") return 6;
        if (s is "POLL") return 29;
        if (s.StartsWith("RTMIN", StringComparison.Ordinal) && RealTime(s[5..], out var plus) && 34 + plus <= 64) return 34 + plus;
        if (s.StartsWith("RTMAX", StringComparison.Ordinal) && RealTime(s[5..], out var minus) && 64 + minus >= 34) return 64 + minus;
        throw new ContainerConfigException($"Invalid signal: {signal}");
    }

    /// <summary>"", "+3" or "-3" after RTMIN/RTMAX.</summary>
    static bool RealTime(string rest, out int offset)
    {
        offset = 0;
        return rest.Length == 0 || int.TryParse(rest, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out offset);
    }
}

/// <summary>--tmpfs options merged with dockerd's defaults (noexec, nosuid, nodev, rprivate), the later of two that clash winning.</summary>
internal static class TmpfsOptions
{
    /// <summary>Each flag → what it clashes with (ro and rw set the same bit; one propagation mode at most).</summary>
    static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        ["ro"] = "rdonly", ["rw"] = "rdonly", ["suid"] = "nosuid", ["nosuid"] = "nosuid", ["dev"] = "nodev", ["nodev"] = "nodev",
        ["exec"] = "noexec", ["noexec"] = "noexec", ["sync"] = "sync", ["async"] = "sync", ["dirsync"] = "dirsync",
        ["mand"] = "mand", ["nomand"] = "mand", ["atime"] = "noatime", ["noatime"] = "noatime", ["diratime"] = "nodiratime",
        ["nodiratime"] = "nodiratime", ["relatime"] = "relatime", ["norelatime"] = "relatime", ["strictatime"] = "strictatime",
        ["nostrictatime"] = "strictatime", ["private"] = "propagation", ["rprivate"] = "propagation", ["shared"] = "propagation",
        ["rshared"] = "propagation", ["slave"] = "propagation", ["rslave"] = "propagation", ["unbindable"] = "propagation",
        ["runbindable"] = "propagation",
    };

    static readonly HashSet<string> DataKeys = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"];

    public static List<string> Merge(string destination, string? data)
    {
        List<string> options = ["noexec", "nosuid", "nodev", "rprivate", .. (data ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var merged = new List<string>();
        // From the end, so that a later option wins, keeping the order in which the survivors were given.
        for (var i = options.Count - 1; i >= 0; i--)
        {
            var option = options[i].Trim();
            if (option == "defaults") continue;
            string key;
            if (Flags.TryGetValue(option, out var flag)) key = flag;
            else
            {
                var kv = option.Split('=', 2);
                if (kv.Length != 2 || !DataKeys.Contains(kv[0]))
                    throw new ContainerConfigException($"invalid tmpfs option \"{option}\" for {destination}");
                key = "data:" + kv[0];
            }
            if (seen.Add(key)) merged.Insert(0, option);
        }
        return merged;
    }
}

/// <summary>The sysctls a container may set: those its own namespaces scope, as runc accepts them.</summary>
internal static class SysctlRules
{
    static readonly HashSet<string> IpcKeys =
        ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];

    public static void Check(string key, NamespaceMode ipc, NamespaceMode network)
    {
        if (IpcKeys.Contains(key) || key.StartsWith("fs.mqueue.", StringComparison.Ordinal))
        {
            if (ipc.IsHost) throw new ContainerConfigException($"sysctl \"{key}\" is not allowed in the host's IPC namespace (HostConfig.Sysctls with IpcMode host)");
            return;
        }
        if (key.StartsWith("net.", StringComparison.Ordinal))
        {
            if (network.IsHost) throw new ContainerConfigException($"sysctl \"{key}\" is not allowed in the host's network namespace (HostConfig.Sysctls with NetworkMode host)");
            return;
        }
        if (key is "kernel.hostname" or "kernel.domainname")
            throw new ContainerConfigException($"sysctl \"{key}\" is not allowed: set Config.{(key == "kernel.hostname" ? "Hostname" : "Domainname")} instead");
        throw new ContainerConfigException($"sysctl \"{key}\" is not allowed: no namespace of the container scopes it (HostConfig.Sysctls)");
    }
}

/// <summary>--ulimit names ("nofile") → the spec's rlimits (RLIMIT_NOFILE); -1 is unlimited.</summary>
internal static class Ulimits
{
    public static PosixRlimit ToRlimit(Ulimit u)
    {
        var type = "RLIMIT_" + u.Name.Trim().ToUpperInvariant();
        if (!LinuxNames.TryGetRlimit(type, out _))
            throw new ContainerConfigException($"invalid ulimit type: {u.Name} (HostConfig.Ulimits)");
        if (u.Soft < -1 || u.Hard < -1)
            throw new ContainerConfigException($"invalid ulimit {u.Name}: limits are -1 (unlimited) or more (HostConfig.Ulimits)");
        ulong soft = u.Soft == -1 ? ulong.MaxValue : (ulong)u.Soft, hard = u.Hard == -1 ? ulong.MaxValue : (ulong)u.Hard;
        if (soft > hard)
            throw new ContainerConfigException($"ulimit soft limit must be less than or equal to hard limit: {u.Soft} > {u.Hard} ({u.Name})");
        return new PosixRlimit { Type = type, Soft = soft, Hard = hard };
    }
}

/// <summary>--device-cgroup-rule ("c 1:3 rwm", "a *:* rwm") → a device cgroup rule.</summary>
internal static partial class DeviceCgroupRules
{
    [GeneratedRegex(@"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")]
    private static partial Regex Rule();

    public static LinuxDeviceCgroup Parse(string rule)
    {
        var m = Rule().Match(rule);
        if (!m.Success) throw new ContainerConfigException($"invalid device cgroup format '{rule}' (HostConfig.DeviceCgroupRules)");
        static long Number(string s) => s == "*" ? -1 : long.Parse(s, CultureInfo.InvariantCulture);
        return new LinuxDeviceCgroup { Allow = true, Type = m.Groups[1].Value, Major = Number(m.Groups[2].Value), Minor = Number(m.Groups[3].Value), Access = m.Groups[4].Value };
    }
}

/// <summary>HostConfig.SecurityOpt, parsed: "no-new-privileges[=bool]", "seccomp=unconfined|builtin|&lt;json&gt;", "systempaths=unconfined", and the LSM options that are no-ops on a host without that LSM.</summary>
internal sealed record SecurityOptions(bool NoNewPrivileges, bool SeccompUnconfined, string? SeccompProfileJson, bool SystemPathsUnconfined)
{
    public static SecurityOptions Parse(IReadOnlyList<string>? options)
    {
        bool noNewPrivileges = false, seccompUnconfined = false, systemPaths = false;
        string? profile = null;
        foreach (var opt in options ?? [])
        {
            if (opt == "no-new-privileges") { noNewPrivileges = true; continue; }
            var kv = opt.Split('=', 2);
            if (kv.Length == 1) kv = opt.Split(':', 2); // the old "seccomp:unconfined" form
            if (kv.Length != 2) throw Invalid(opt, "expected key=value");
            switch (kv[0], kv[1])
            {
                case ("no-new-privileges", var b):
                    noNewPrivileges = bool.TryParse(b, out var v) ? v : throw Invalid(opt, "no-new-privileges takes true or false");
                    break;
                case ("seccomp", "unconfined"): seccompUnconfined = true; profile = null; break;
                case ("seccomp", "builtin"): seccompUnconfined = false; profile = null; break;
                case ("seccomp", var json): seccompUnconfined = false; profile = json; break;
                case ("systempaths", "unconfined"): systemPaths = true; break;
                // This host has neither AppArmor nor SELinux (DESIGN §4): turning them off changes nothing, as with dockerd.
                case ("apparmor", "unconfined"): case ("label", "disable"): break;
                case ("apparmor", _):
                    throw ContainerConfigException.NotSupported($"SecurityOpt \"{opt}\"", "AppArmor profiles (only apparmor=unconfined)");
                case ("label", _):
                    throw ContainerConfigException.NotSupported($"SecurityOpt \"{opt}\"", "SELinux labels (only label=disable)");
                default: throw Invalid(opt, "Berth knows no-new-privileges, seccomp, systempaths, apparmor and label");
            }
        }
        return new SecurityOptions(noNewPrivileges, seccompUnconfined, profile, systemPaths);
    }

    static ContainerConfigException Invalid(string opt, string why) => new($"invalid --security-opt \"{opt}\" (HostConfig.SecurityOpt): {why}");
}
