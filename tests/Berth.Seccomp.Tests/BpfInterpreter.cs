using System.Buffers.Binary;
using Berth.Seccomp;

namespace Berth.Seccomp.Tests;

/// <summary>struct seccomp_data as the kernel fills it for a syscall.</summary>
public sealed record SeccompData(uint Arch, uint Nr, params ulong[] Args)
{
    public byte[] ToBytes()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0), Nr);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), Arch);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 0x401000); // instruction_pointer
        for (int i = 0; i < Args.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16 + 8 * i), Args[i]);
        return bytes;
    }
}

/// <summary>
/// A classic BPF interpreter with the kernel's seccomp checks (seccomp_check_filter / bpf_check_classic): only
/// 32-bit aligned loads inside seccomp_data, jumps forward and inside the program, every path ending in a return.
/// Written from the BPF definition, independently of the compiler, so that it can catch the compiler's mistakes.
/// </summary>
public static class BpfInterpreter
{
    public static uint Run(SockFilter[] program, SeccompData data)
    {
        Assert.InRange(program.Length, 1, Bpf.MaxInstructions);
        var bytes = data.ToBytes();
        uint a = 0;
        int pc = 0;
        while (true)
        {
            Assert.True(pc >= 0 && pc < program.Length, $"pc {pc} ran off the program ({program.Length} instructions)");
            var f = program[pc];
            pc++;
            switch (f.Code)
            {
                case Bpf.LD | Bpf.W | Bpf.ABS:
                    Assert.True(f.K % 4 == 0 && f.K + 4 <= 64, $"bad load offset {f.K} at {pc - 1}");
                    a = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)f.K));
                    break;
                case Bpf.ALU | Bpf.AND | Bpf.K:
                    a &= f.K;
                    break;
                case Bpf.JMP | Bpf.JA:
                    Assert.True((long)pc + f.K < program.Length, $"ja out of the program at {pc - 1}");
                    pc += (int)f.K;
                    break;
                case Bpf.JMP | Bpf.JEQ | Bpf.K: pc += Branch(a == f.K, f, pc, program.Length); break;
                case Bpf.JMP | Bpf.JGT | Bpf.K: pc += Branch(a > f.K, f, pc, program.Length); break;
                case Bpf.JMP | Bpf.JGE | Bpf.K: pc += Branch(a >= f.K, f, pc, program.Length); break;
                case Bpf.JMP | Bpf.JSET | Bpf.K: pc += Branch((a & f.K) != 0, f, pc, program.Length); break;
                case Bpf.RET | Bpf.K:
                    return f.K;
                default:
                    Assert.Fail($"unexpected opcode 0x{f.Code:x} at {pc - 1}");
                    return 0;
            }
        }
    }

    static int Branch(bool taken, SockFilter f, int pc, int length)
    {
        // The kernel checks both targets at load time, whichever is taken.
        Assert.True(pc + f.Jt < length && pc + f.Jf < length, $"conditional jump out of the program at {pc - 1}");
        return taken ? f.Jt : f.Jf;
    }
}
