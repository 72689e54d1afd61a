using System.Runtime.InteropServices;

namespace Berth.Seccomp;

/// <summary>One classic BPF instruction, laid out as the kernel's <c>struct sock_filter</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct SockFilter(ushort Code, byte Jt, byte Jf, uint K)
{
    public override string ToString() => Bpf.Disassemble(this);
}

/// <summary>The classic BPF opcodes the compiler emits (linux/filter.h, linux/bpf_common.h).</summary>
public static class Bpf
{
    // Instruction classes, sizes, modes, operations, sources.
    public const ushort LD = 0x00, ALU = 0x04, JMP = 0x05, RET = 0x06;
    public const ushort W = 0x00, ABS = 0x20;
    public const ushort AND = 0x50;
    public const ushort JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
    public const ushort K = 0x00;

    /// <summary>The most instructions the kernel accepts in one filter (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = 4096;

    public static string Disassemble(SockFilter f) => f.Code switch
    {
        LD | W | ABS => $"ld [{f.K}]",
        ALU | AND | K => $"and 0x{f.K:x}",
        JMP | JA => $"ja +{f.K}",
        JMP | JEQ | K => $"jeq 0x{f.K:x} {f.Jt} {f.Jf}",
        JMP | JGT | K => $"jgt 0x{f.K:x} {f.Jt} {f.Jf}",
        JMP | JGE | K => $"jge 0x{f.K:x} {f.Jt} {f.Jf}",
        JMP | JSET | K => $"jset 0x{f.K:x} {f.Jt} {f.Jf}",
        RET | K => $"ret 0x{f.K:x8}",
        _ => $"op 0x{f.Code:x4} {f.Jt} {f.Jf} 0x{f.K:x}",
    };
}
