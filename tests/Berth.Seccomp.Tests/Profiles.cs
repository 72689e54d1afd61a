using Berth.Oci;
using static Berth.Seccomp.SeccompConstants;

namespace Berth.Seccomp.Tests;

/// <summary>Small profiles written in code, and the numbers the tests feed the compiled filters.</summary>
internal static class Profiles
{
    public const uint X64 = AuditArchX86_64, I386 = AuditArchI386;
    public const uint Allow = RetAllow, Eperm = RetErrno | EPERM, Enosys = RetErrno | ENOSYS;

    public static LinuxSeccomp Profile(string defaultAction, params LinuxSyscall[] syscalls) => new()
    {
        DefaultAction = defaultAction,
        Architectures = ["SCMP_ARCH_X86_64"],
        Syscalls = [.. syscalls],
    };

    public static LinuxSyscall Rule(string action, string name, params LinuxSeccompArg[] args) => new()
    {
        Names = [name],
        Action = action,
        Args = args.Length == 0 ? null : [.. args],
    };

    public static LinuxSeccompArg Arg(uint index, string op, ulong value, ulong valueTwo = 0) =>
        new() { Index = index, Op = op, Value = value, ValueTwo = valueTwo };

    public static uint Nr(string name, SyscallAbi abi = SyscallAbi.X86_64) =>
        Syscalls.TryGetNumber(abi, name, out var nr) ? nr : throw new ArgumentException($"{name} unknown on {abi}");

    public static uint Run(SockFilter[] program, string name, params ulong[] args) =>
        BpfInterpreter.Run(program, new SeccompData(X64, Nr(name), args));

    public static uint Run(SeccompFilter filter, string name, params ulong[] args) => Run(filter.Program, name, args);
}
