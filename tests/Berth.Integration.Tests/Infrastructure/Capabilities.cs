namespace Berth.Integration.Tests.Infrastructure;

/// <summary>Linux capability numbers (include/uapi/linux/capability.h), to compute the masks /proc shows.</summary>
public static class Capabilities
{
    private static readonly string[] Names =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];

    /// <summary>Every capability the table knows, as "CAP_..." names.</summary>
    public static IReadOnlyList<string> All => Names.Select(n => "CAP_" + n).ToArray();

    public static int Number(string name)
    {
        var bare = name.StartsWith("CAP_", StringComparison.Ordinal) ? name[4..] : name;
        var index = Array.IndexOf(Names, bare);
        return index >= 0 ? index : throw new ArgumentException($"unknown capability {name}", nameof(name));
    }

    public static ulong Mask(IEnumerable<string> names) => names.Aggregate(0UL, (mask, name) => mask | (1UL << Number(name)));

    /// <summary>A "CapEff:" style value from /proc/PID/status.</summary>
    public static ulong ParseStatusValue(string status, string field)
    {
        var line = status.Split('\n').Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return Convert.ToUInt64(line[(field.Length + 1)..].Trim(), 16);
    }
}
