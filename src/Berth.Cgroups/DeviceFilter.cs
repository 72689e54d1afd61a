using Berth.Linux;
using Berth.Oci;

namespace Berth.Cgroups;

/// <summary>
/// Compiles linux.resources.devices into a BPF_PROG_TYPE_CGROUP_DEVICE program, the cgroup v2 stand-in for the
/// v1 devices controller. Semantics are those of the v1 rules as runc applies them: start from deny-all, then
/// each rule in order, the last rule that matches a device and an access wins. Since one request may ask for
/// several accesses at once (open O_RDWR asks for read and write), the program decides each requested access
/// separately and allows the request only when every one of them is allowed: an "allow c 1:3 r" followed by
/// "allow c 1:3 w" allows rw, and a later "deny c 1:3 w" takes write away again, as v1 would.
/// </summary>
/// <remarks>
/// The program: r2 = device type, r3 = requested access, r4 = major, r5 = minor (from struct
/// bpf_cgroup_dev_ctx). Then one section per access bit (mknod, read, write) that is skipped when the bit is not
/// requested; in it the rules carrying that bit are tested newest first, so the first match is the last rule:
/// a deny returns 0, an allow jumps to the next section. No match denies. After the last section: return 1.
/// </remarks>
public static class DeviceFilter
{
    const byte Ctx = 1, Type = 2, Access = 3, Major = 4, Minor = 5, Result = 0;

    static readonly (int Bit, char Letter)[] Accesses =
        [(Libc.BPF_DEVCG_ACC_MKNOD, 'm'), (Libc.BPF_DEVCG_ACC_READ, 'r'), (Libc.BPF_DEVCG_ACC_WRITE, 'w')];

    /// <summary>The program for <paramref name="rules"/> (null or empty: deny every device). Validates every rule.</summary>
    public static IReadOnlyList<BpfInstruction> Compile(IReadOnlyList<LinuxDeviceCgroup>? rules)
    {
        var parsed = new List<(DeviceRules.Normalized Rule, bool Allow)>();
        for (int i = 0; i < (rules?.Count ?? 0); i++)
        {
            var rule = DeviceRules.Normalize(rules![i], i);
            if (rule.MajorNumber > uint.MaxValue || rule.MinorNumber > uint.MaxValue)
                throw new CgroupException($"linux.resources.devices[{i}]: device number {rule.Major}:{rule.Minor} is out of range");
            parsed.Add((rule, rules[i].Allow));
        }

        var e = new Emitter();
        e.Emit(new(BpfInstruction.LdxMemW, Type, Ctx, 0, 0));
        e.Emit(new(BpfInstruction.And32K, Type, 0, 0, 0xffff));
        e.Emit(new(BpfInstruction.LdxMemW, Access, Ctx, 0, 0));
        e.Emit(new(BpfInstruction.Rsh32K, Access, 0, 0, 16));
        e.Emit(new(BpfInstruction.LdxMemW, Major, Ctx, 4, 0));
        e.Emit(new(BpfInstruction.LdxMemW, Minor, Ctx, 8, 0));

        foreach (var (bit, letter) in Accesses)
        {
            int nextSection = e.NewLabel();
            e.Emit(new(BpfInstruction.JsetK, Access, 0, 1, bit)); // requested: skip the jump past this section
            e.Jump(BpfInstruction.Ja, 0, 0, nextSection);
            bool decided = false; // an unconditional rule decides alone; anything after it would be unreachable
            for (int i = parsed.Count - 1; i >= 0 && !decided; i--)
            {
                var (rule, allow) = parsed[i];
                if (!rule.Access.Contains(letter))
                    continue;
                int nextRule = e.NewLabel();
                bool conditional = false;
                if (rule.Type != 'a')
                {
                    e.Jump(BpfInstruction.Jne32K, Type, rule.Type == 'c' ? Libc.BPF_DEVCG_DEV_CHAR : Libc.BPF_DEVCG_DEV_BLOCK, nextRule);
                    conditional = true;
                }
                if (rule.MajorNumber is { } major)
                {
                    e.Jump(BpfInstruction.Jne32K, Major, unchecked((int)(uint)major), nextRule);
                    conditional = true;
                }
                if (rule.MinorNumber is { } minor)
                {
                    e.Jump(BpfInstruction.Jne32K, Minor, unchecked((int)(uint)minor), nextRule);
                    conditional = true;
                }
                if (!allow)
                    e.Return(0);
                else if (conditional)
                    e.Jump(BpfInstruction.Ja, 0, 0, nextSection);
                // an unconditional allow falls through to the next section
                e.Mark(nextRule);
                decided = !conditional;
            }
            if (!decided)
                e.Return(0); // no rule matched: deny, as the rules start from deny-all
            e.Mark(nextSection);
        }
        e.Return(1);
        return e.Finish();
    }

    /// <summary>Instructions with forward jumps to labels, resolved into offsets at the end.</summary>
    sealed class Emitter
    {
        readonly List<BpfInstruction> _code = [];
        readonly List<int> _labels = [];
        readonly List<(int Index, int Label)> _jumps = [];

        public void Emit(BpfInstruction instruction) => _code.Add(instruction);

        public int NewLabel()
        {
            _labels.Add(-1);
            return _labels.Count - 1;
        }

        public void Mark(int label) => _labels[label] = _code.Count;

        public void Jump(byte opcode, byte dst, int immediate, int label)
        {
            _jumps.Add((_code.Count, label));
            _code.Add(new BpfInstruction(opcode, dst, 0, 0, immediate));
        }

        public void Return(int value)
        {
            Emit(new(BpfInstruction.Mov32K, Result, 0, 0, value));
            Emit(new(BpfInstruction.Exit, 0, 0, 0, 0));
        }

        public List<BpfInstruction> Finish()
        {
            foreach (var (index, label) in _jumps)
            {
                int offset = _labels[label] - (index + 1);
                if (_labels[label] < 0 || offset > short.MaxValue)
                    throw new CgroupException($"device filter: jump at instruction {index} cannot reach its target ({_code.Count} instructions)");
                _code[index] = _code[index] with { Offset = (short)offset };
            }
            return _code;
        }
    }
}
