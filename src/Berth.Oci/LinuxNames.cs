namespace Berth.Oci;

/// <summary>
/// The kernel names a spec may use for capabilities and rlimits, indexed by their kernel number
/// (linux/capability.h and asm-generic/resource.h, the numbering on x86-64 and arm64). The validator checks names
/// against these; Berth.Runtime turns them into numbers and masks.
/// </summary>
public static class LinuxNames
{
    /// <summary>Capability names; the index is the capability number (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).</summary>
    public static readonly IReadOnlyList<string> Capabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>Rlimit names; the index is the RLIMIT_* resource number (RLIMIT_CPU = 0 ... RLIMIT_RTTIME = 15).</summary>
    public static readonly IReadOnlyList<string> Rlimits =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    private static readonly Dictionary<string, int> CapabilityNumbers =
        Index(Capabilities, StringComparer.OrdinalIgnoreCase);

    private static readonly Dictionary<string, int> RlimitNumbers = Index(Rlimits, StringComparer.Ordinal);

    /// <summary>
    /// A capability name to its number. runc matches "CAP_X" exactly and silently drops anything else; Berth
    /// accepts any letter case (the names are unambiguous) but still requires the CAP_ prefix the spec uses.
    /// </summary>
    public static bool TryGetCapability(string? name, out int number)
    {
        number = -1;
        return name is not null && CapabilityNumbers.TryGetValue(name, out number);
    }

    /// <summary>An rlimit name ("RLIMIT_NOFILE", exact case as in the spec) to its resource number.</summary>
    public static bool TryGetRlimit(string? name, out int resource)
    {
        resource = -1;
        return name is not null && RlimitNumbers.TryGetValue(name, out resource);
    }

    /// <summary>The namespace types of runtime-spec config-linux.md.</summary>
    public static readonly IReadOnlyList<string> NamespaceTypes =
        ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];

    /// <summary>The rootfsPropagation (and mount option) propagation names.</summary>
    public static readonly IReadOnlyList<string> PropagationNames =
        ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"];

    private static Dictionary<string, int> Index(IReadOnlyList<string> names, StringComparer comparer)
    {
        var map = new Dictionary<string, int>(comparer);
        for (var i = 0; i < names.Count; i++)
            map[names[i]] = i;
        return map;
    }
}
