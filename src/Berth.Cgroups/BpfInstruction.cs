using System.Globalization;

namespace Berth.Cgroups;

/// <summary>
/// One eBPF instruction (struct bpf_insn): opcode, destination and source registers, a signed 16-bit offset
/// (jumps: instructions to skip; loads: byte offset) and a 32-bit immediate. Only the opcodes a device filter
/// uses have names here.
/// </summary>
public readonly record struct BpfInstruction(byte Opcode, byte Dst, byte Src, short Offset, int Immediate)
{
    // Classes, operations and sources from linux/bpf.h and linux/bpf_common.h.
    public const byte LdxMemW = 0x61;  // BPF_LDX | BPF_MEM | BPF_W
    public const byte And32K = 0x54;   // BPF_ALU | BPF_AND | BPF_K
    public const byte Rsh32K = 0x74;   // BPF_ALU | BPF_RSH | BPF_K
    public const byte Mov32K = 0xb4;   // BPF_ALU | BPF_MOV | BPF_K
    public const byte Ja = 0x05;       // BPF_JMP | BPF_JA
    public const byte JsetK = 0x45;    // BPF_JMP | BPF_JSET | BPF_K
    public const byte Jne32K = 0x56;   // BPF_JMP32 | BPF_JNE | BPF_K
    public const byte Exit = 0x95;     // BPF_JMP | BPF_EXIT

    /// <summary>The 8 bytes the kernel reads, as one little-endian word.</summary>
    public ulong Encode() =>
        Opcode | (ulong)(byte)((Src << 4) | (Dst & 0xf)) << 8 | (ulong)(ushort)Offset << 16 | (ulong)(uint)Immediate << 32;

    /// <summary>A readable form ("jne32 r4, 1, +3"), for golden tests and error messages.</summary>
    public override string ToString()
    {
        string imm = Immediate.ToString(CultureInfo.InvariantCulture);
        string off = (Offset >= 0 ? "+" : "") + Offset.ToString(CultureInfo.InvariantCulture);
        return Opcode switch
        {
            LdxMemW => $"ldxw r{Dst}, [r{Src}{off}]",
            And32K => $"and32 r{Dst}, 0x{Immediate:x}",
            Rsh32K => $"rsh32 r{Dst}, {imm}",
            Mov32K => $"mov32 r{Dst}, {imm}",
            Ja => $"ja {off}",
            JsetK => $"jset r{Dst}, {imm}, {off}",
            Jne32K => $"jne32 r{Dst}, {imm}, {off}",
            Exit => "exit",
            _ => $"op 0x{Opcode:x2} r{Dst}, r{Src}, {off}, {imm}",
        };
    }
}
