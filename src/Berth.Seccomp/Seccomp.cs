namespace Berth.Seccomp;

/// <summary>The x86 syscall ABIs a filter can cover: their numbers differ, and the kernel tells them apart.</summary>
public enum SyscallAbi
{
    /// <summary>AUDIT_ARCH_X86_64, syscall numbers without the x32 bit.</summary>
    X86_64,
    /// <summary>AUDIT_ARCH_I386 (32-bit processes, int 0x80).</summary>
    X86,
    /// <summary>AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT set in the number.</summary>
    X32,
}

/// <summary>Syscall names → numbers per ABI, from the kernel headers (SyscallTables.g.cs).</summary>
public static class Syscalls
{
    public static bool TryGetNumber(SyscallAbi abi, string name, out uint number) => TableOf(abi).TryGetValue(name, out number);

    /// <summary>All names known for an ABI (for tests and diagnostics).</summary>
    public static IReadOnlyDictionary<string, uint> All(SyscallAbi abi) => TableOf(abi);

    static Dictionary<string, uint> TableOf(SyscallAbi abi) => abi switch
    {
        SyscallAbi.X86_64 => SyscallTables.X86_64,
        SyscallAbi.X86 => SyscallTables.X86,
        SyscallAbi.X32 => SyscallTables.X32,
        _ => throw new ArgumentOutOfRangeException(nameof(abi)),
    };
}

/// <summary>Kernel constants of the seccomp filter ABI (linux/seccomp.h, linux/audit.h).</summary>
public static class SeccompConstants
{
    // Return values: action in the high 16 bits, data (errno, trace message) in the low 16.
    public const uint RetKillProcess = 0x80000000, RetKillThread = 0x00000000, RetTrap = 0x00030000, RetErrno = 0x00050000,
        RetUserNotif = 0x7fc00000, RetTrace = 0x7ff00000, RetLog = 0x7ffc0000, RetAllow = 0x7fff0000;
    public const uint RetDataMask = 0x0000ffff;

    public const uint AuditArchX86_64 = 0xc000003e, AuditArchI386 = 0x40000003;
    public const uint X32SyscallBit = 0x40000000;

    // Flags of seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).
    public const uint FilterFlagTsync = 1, FilterFlagLog = 2, FilterFlagSpecAllow = 4, FilterFlagNewListener = 8,
        FilterFlagTsyncEsrch = 16, FilterFlagWaitKillableRecv = 32;

    // struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian here).
    public const uint DataNr = 0, DataArch = 4, DataArgs = 16;

    public const uint EPERM = 1, ENOSYS = 38;
}
