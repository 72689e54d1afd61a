// Why a managed compiler instead of libseccomp through P/Invoke:
// - berth-runtime is one NativeAOT binary with no native dependency but libc; libseccomp would be a second
//   shared library to find (dlopen at every start-up, or a static link that the build must provide), on the
//   hot path of a process that starts twice per container;
// - the output is deterministic and ours: golden unit tests pin the exact program, and a BPF interpreter in the
//   tests checks its behaviour, all without root and without a particular libseccomp version;
// - the job is small: one architecture family (x86_64 with its x86 and x32 ABIs), a list of syscalls, and six
//   comparison operators. libseccomp's generality (20 architectures, its rule database, its optimiser) would
//   cost more to bind than this file costs to write.
// The semantics follow runc on libseccomp (see the comments below for each rule taken from it).

using Berth.Oci;
using static Berth.Seccomp.SeccompConstants;

namespace Berth.Seccomp;

/// <summary>A compiled filter: the program and the flags for seccomp(SECCOMP_SET_MODE_FILTER, flags, &amp;prog).</summary>
public sealed record SeccompFilter(SockFilter[] Program, uint Flags)
{
    /// <summary>The profile has SCMP_ACT_NOTIFY rules: installing it returns a notify fd for linux.seccomp.listenerPath.</summary>
    public bool NewListener => (Flags & FilterFlagNewListener) != 0;
}

/// <summary>
/// <c>linux.seccomp</c> → a classic BPF program. Layout:
/// <list type="number">
/// <item>load the architecture; jump to the section of AUDIT_ARCH_X86_64 or AUDIT_ARCH_I386 when the profile
///   covers it, otherwise return the bad-architecture action, KILL_PROCESS: a whole process, so that no thread is
///   left behind holding what the killed one was doing (libseccomp kills the thread);</item>
/// <item>x86_64: load the number; the x32 bit picks the x32 section or the x86_64 one (an ABI the profile does not
///   list gets the bad-architecture action);</item>
/// <item>each ABI section: runc's ENOSYS stub (a number above the highest the profile names → ENOSYS), then a
///   binary search over the syscall numbers that have rules, each leaf a short chain of <c>jeq nr</c> tests, the
///   default action, and the distinct rule blocks the tests jump to.</item>
/// </list>
/// Rules of one syscall are tried in profile order: the first whose argument conditions all hold decides.
/// </summary>
public static class SeccompCompiler
{
    const string Root = "$.linux.seccomp";

    // What the compiler accepts, for `features` (which must tell the truth); the unit tests compile each one.
    public static readonly IReadOnlyList<string> SupportedActions =
        ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"];
    public static readonly IReadOnlyList<string> SupportedOperators =
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
    public static readonly IReadOnlyList<string> SupportedArchitectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
    public static readonly IReadOnlyList<string> KnownFlags =
        ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"];
    public static readonly IReadOnlyList<string> SupportedFlags = KnownFlags;
    /// <summary>
    /// Syscalls that may not notify: init sends the notify fd to the runtime with sendmsg and then reports
    /// "ready" with write, both after the filter is in place; a notification there would wait for a listener
    /// that has no fd yet. runc refuses write for the same reason.
    /// </summary>
    public static readonly IReadOnlyList<string> NotifyForbiddenSyscalls = ["write", "sendmsg"];
    const int ArgCount = 6;
    /// <summary>
    /// The action for a call of an architecture the filter does not cover. libseccomp kills the thread; a whole
    /// process here, because a multi-threaded process (the runtime's init, before it execs) that loses only the
    /// thread that made the call keeps its other threads, fds and locks, and whoever waits for it waits forever.
    /// </summary>
    const uint BadArchitecture = RetKillProcess;
    const int LeafSize = 8; // syscalls tested one after another before the search splits the range again

    /// <exception cref="SeccompProfileException">An unknown action, operator, architecture or flag, or a value out
    /// of range; the message starts with the JSON path (<c>$.linux.seccomp.syscalls[3].action</c>).</exception>
    public static SeccompFilter Compile(LinuxSeccomp profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (string.IsNullOrEmpty(profile.DefaultAction))
            throw new SeccompProfileException($"{Root}.defaultAction", "is required");
        uint defaultRet = ParseAction(profile.DefaultAction, profile.DefaultErrnoRet, $"{Root}.defaultAction", $"{Root}.defaultErrnoRet");
        // As runc: every syscall would wait for the listener, including those that hand it its fd.
        if (defaultRet == RetUserNotif)
            throw new SeccompProfileException($"{Root}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action (the runtime's own syscalls that hand the notify fd to the listener would wait for it)");
        var abis = ParseArchitectures(profile.Architectures);
        var (flags, waitKillable) = ParseFlags(profile.Flags);

        var rules = new Dictionary<SyscallAbi, SortedDictionary<uint, List<Rule>>>();
        var highest = new Dictionary<SyscallAbi, uint>();
        foreach (var abi in abis)
        {
            rules[abi] = [];
            highest[abi] = 0;
        }

        var syscalls = profile.Syscalls ?? [];
        bool notifies = false;
        for (int i = 0; i < syscalls.Count; i++)
        {
            string path = $"{Root}.syscalls[{i}]";
            var call = syscalls[i] ?? throw new SeccompProfileException(path, "is null");
            uint ret = ParseAction(call.Action, call.ErrnoRet, $"{path}.action", $"{path}.errnoRet");
            var conditions = ParseConditions(call.Args, path);
            if (call.Names is null || call.Names.Count == 0) throw new SeccompProfileException($"{path}.names", "must name at least one syscall");
            for (int n = 0; n < call.Names.Count; n++)
                if (string.IsNullOrEmpty(call.Names[n])) throw new SeccompProfileException($"{path}.names[{n}]", "is empty");
            if (ret == RetUserNotif)
            {
                notifies = true;
                for (int n = 0; n < call.Names.Count; n++)
                    if (NotifyForbiddenSyscalls.Contains(call.Names[n]))
                        throw new SeccompProfileException($"{path}.names[{n}]",
                            $"SCMP_ACT_NOTIFY cannot be used for the {call.Names[n]} syscall (the runtime needs it to hand the notify fd to the listener after the filter is installed)");
            }

            // runc skips a rule whose action is the default one (libseccomp refuses it): it changes nothing.
            bool redundant = ret == defaultRet;
            // runc: when two conditions test the same argument, each becomes a rule of its own (OR);
            // otherwise all conditions form one rule (AND).
            var expanded = conditions.GroupBy(c => c.Index).Any(g => g.Count() > 1)
                ? conditions.Select(c => new Rule([c], ret)).ToList()
                : [new Rule(conditions, ret)];

            foreach (var abi in abis)
            {
                foreach (var name in call.Names)
                {
                    // Names unknown on an ABI are ignored, as libseccomp/runc do: profiles list the syscalls of
                    // every ABI (chown32 exists on x86 only) and of kernels newer than our table.
                    if (!Syscalls.TryGetNumber(abi, name, out uint nr)) continue;
                    // runc's ENOSYS stub counts every named syscall, whatever its action.
                    if (nr > highest[abi]) highest[abi] = nr;
                    if (redundant) continue;
                    if (!rules[abi].TryGetValue(nr, out var list)) rules[abi][nr] = list = [];
                    list.AddRange(expanded);
                }
            }
        }

        // runc (libcontainer/seccomp/patchbpf): a syscall newer than any the profile names gets ENOSYS, so that
        // programs fall back to older syscalls, unless the default action lets calls through (ALLOW, LOG, TRACE).
        if (notifies)
        {
            // runc fails the same profile when init hands over the fd; here it fails before anything exists.
            if (string.IsNullOrEmpty(profile.ListenerPath))
                throw new SeccompProfileException($"{Root}.listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY (the notify fd is sent to that unix socket)");
            flags |= FilterFlagNewListener;
            if (waitKillable) flags |= FilterFlagWaitKillableRecv;
            // The kernel refuses TSYNC next to NEW_LISTENER unless a thread it cannot sync fails the call with
            // ESRCH instead of reporting its tid in the return value, which is the fd here (libseccomp does the same).
            if ((flags & FilterFlagTsync) != 0) flags |= FilterFlagTsyncEsrch;
        }
        // A listenerPath without NOTIFY rules is no error, as with runc: no notification can happen, so there is
        // no fd and the listener is not contacted.

        bool enosysStub = !IsPermissive(defaultRet);
        var program = Emit(abis, rules, enosysStub ? highest : null, defaultRet);
        if (program.Length > Bpf.MaxInstructions)
            throw new SeccompProfileException(Root, $"compiles to {program.Length} BPF instructions, more than the kernel's limit of {Bpf.MaxInstructions}");
        return new SeccompFilter(program, flags);
    }

    static bool IsPermissive(uint ret)
    {
        uint action = ret & ~RetDataMask;
        return action is RetAllow or RetLog or RetTrace;
    }

    // ---- parsing ----

    static uint ParseAction(string? action, uint? errnoRet, string path, string errnoPath)
    {
        uint Data(uint fallback)
        {
            uint value = errnoRet ?? fallback;
            if (value > RetDataMask) throw new SeccompProfileException(errnoPath, $"{value} does not fit the 16 bits of a seccomp return value");
            return value;
        }
        return action switch
        {
            // SCMP_ACT_KILL is libseccomp's old name of KILL_THREAD.
            "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => RetKillThread,
            "SCMP_ACT_KILL_PROCESS" => RetKillProcess,
            "SCMP_ACT_TRAP" => RetTrap,
            "SCMP_ACT_ERRNO" => RetErrno | Data(EPERM),
            // runc passes errnoRet as the tracer's message, EPERM when absent.
            "SCMP_ACT_TRACE" => RetTrace | Data(EPERM),
            "SCMP_ACT_ALLOW" => RetAllow,
            "SCMP_ACT_LOG" => RetLog,
            // The listener answers; errnoRet means nothing here (libseccomp ignores it too).
            "SCMP_ACT_NOTIFY" => RetUserNotif,
            null or "" => throw new SeccompProfileException(path, "is required"),
            _ => throw new SeccompProfileException(path,
                $"unknown seccomp action \"{action}\" (known: SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)"),
        };
    }

    static List<SyscallAbi> ParseArchitectures(List<string>? architectures)
    {
        var abis = new List<SyscallAbi>();
        void Add(SyscallAbi abi)
        {
            if (!abis.Contains(abi)) abis.Add(abi);
        }
        // No architectures: the native one only, as libseccomp does.
        if (architectures is null || architectures.Count == 0)
        {
            Add(SyscallAbi.X86_64);
            return abis;
        }
        for (int i = 0; i < architectures.Count; i++)
        {
            switch (architectures[i])
            {
                case "SCMP_ARCH_X86_64" or "SCMP_ARCH_NATIVE": Add(SyscallAbi.X86_64); break;
                case "SCMP_ARCH_X86": Add(SyscallAbi.X86); break;
                case "SCMP_ARCH_X32": Add(SyscallAbi.X32); break;
                // Architectures of other machines: an x86 kernel never reports them in seccomp_data.arch, so a
                // section for them could never run; they are accepted (profiles list several) and left out.
                case "SCMP_ARCH_ARM" or "SCMP_ARCH_AARCH64" or "SCMP_ARCH_LOONGARCH64" or "SCMP_ARCH_M68K"
                    or "SCMP_ARCH_MIPS" or "SCMP_ARCH_MIPS64" or "SCMP_ARCH_MIPS64N32" or "SCMP_ARCH_MIPSEL"
                    or "SCMP_ARCH_MIPSEL64" or "SCMP_ARCH_MIPSEL64N32" or "SCMP_ARCH_PPC" or "SCMP_ARCH_PPC64"
                    or "SCMP_ARCH_PPC64LE" or "SCMP_ARCH_S390" or "SCMP_ARCH_S390X" or "SCMP_ARCH_PARISC"
                    or "SCMP_ARCH_PARISC64" or "SCMP_ARCH_RISCV64" or "SCMP_ARCH_SH" or "SCMP_ARCH_SHEB":
                    break;
                default:
                    throw new SeccompProfileException($"{Root}.architectures[{i}]",
                        $"unknown architecture \"{architectures[i]}\" (on x86: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32)");
            }
        }
        // libseccomp's filter always covers the native architecture, whatever the profile lists (runc starts from
        // seccomp_init, which adds it): a profile for x86 and x32 still governs x86_64 calls with its rules.
        if (!abis.Contains(SyscallAbi.X86_64)) abis.Insert(0, SyscallAbi.X86_64);
        return abis;
    }

    static (uint Bits, bool WaitKillableRecv) ParseFlags(List<string>? flags)
    {
        uint bits = 0;
        bool waitKillable = false;
        for (int i = 0; i < (flags?.Count ?? 0); i++)
        {
            bits |= flags![i] switch
            {
                "SECCOMP_FILTER_FLAG_TSYNC" => FilterFlagTsync,
                "SECCOMP_FILTER_FLAG_LOG" => FilterFlagLog,
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FilterFlagSpecAllow,
                // Only meaningful with a notify listener (the kernel refuses it without NEW_LISTENER): set by Compile
                // when the profile notifies, dropped otherwise, as libseccomp does.
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => SetWaitKillable(),
                _ => throw new SeccompProfileException($"{Root}.flags[{i}]",
                    $"unknown seccomp flag \"{flags[i]}\" (known: SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)"),
            };
        }
        return (bits, waitKillable);

        uint SetWaitKillable()
        {
            waitKillable = true;
            return 0;
        }
    }

    static List<Condition> ParseConditions(List<LinuxSeccompArg>? args, string path)
    {
        var conditions = new List<Condition>();
        for (int a = 0; a < (args?.Count ?? 0); a++)
        {
            string argPath = $"{path}.args[{a}]";
            var arg = args![a] ?? throw new SeccompProfileException(argPath, "is null");
            if (arg.Index >= ArgCount) throw new SeccompProfileException($"{argPath}.index", $"{arg.Index} is out of range: a syscall has arguments 0 to 5");
            var op = arg.Op switch
            {
                "SCMP_CMP_NE" => Op.Ne,
                "SCMP_CMP_LT" => Op.Lt,
                "SCMP_CMP_LE" => Op.Le,
                "SCMP_CMP_EQ" => Op.Eq,
                "SCMP_CMP_GE" => Op.Ge,
                "SCMP_CMP_GT" => Op.Gt,
                "SCMP_CMP_MASKED_EQ" => Op.MaskedEq,
                _ => throw new SeccompProfileException($"{argPath}.op",
                    $"unknown seccomp operator \"{arg.Op}\" (known: SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)"),
            };
            conditions.Add(new Condition(arg.Index, op, arg.Value, arg.ValueTwo));
        }
        return conditions;
    }

    // ---- code generation ----

    enum Op { Ne, Lt, Le, Eq, Ge, Gt, MaskedEq }

    /// <summary><c>args[Index] Op Value</c>; for MASKED_EQ, <c>(args[Index] &amp; Value) == ValueTwo</c> (runtime-spec).</summary>
    sealed record Condition(uint Index, Op Op, ulong Value, ulong ValueTwo);

    sealed record Rule(List<Condition> Conditions, uint Ret);

    static SockFilter[] Emit(List<SyscallAbi> abis, Dictionary<SyscallAbi, SortedDictionary<uint, List<Rule>>> rules,
        Dictionary<SyscallAbi, uint>? highest, uint defaultRet)
    {
        var a = new Assembler();
        // The native ABI is always covered (see ParseArchitectures); x32 and x86 only when the profile lists them.
        bool x32 = abis.Contains(SyscallAbi.X32), x86 = abis.Contains(SyscallAbi.X86);
        var amd64Section = a.NewLabel();
        var i386Section = a.NewLabel();

        a.Load(DataArch);
        a.JumpIfEqual(AuditArchX86_64, amd64Section);
        if (x86) a.JumpIfEqual(AuditArchI386, i386Section);
        a.Return(BadArchitecture);

        a.Mark(amd64Section);
        a.Load(DataNr);
        if (x32)
        {
            var x32Section = a.NewLabel();
            a.JumpIfBitsSet(X32SyscallBit, x32Section);
            EmitAbi(a, rules[SyscallAbi.X86_64], highest?[SyscallAbi.X86_64], defaultRet, is32Bit: false);
            a.Mark(x32Section);
            EmitAbi(a, rules[SyscallAbi.X32], highest?[SyscallAbi.X32], defaultRet, is32Bit: false);
        }
        else
        {
            a.Emit(Bpf.JMP | Bpf.JSET | Bpf.K, X32SyscallBit, 0, 1); // an x32 call: not an ABI this filter covers
            a.Return(BadArchitecture);
            EmitAbi(a, rules[SyscallAbi.X86_64], highest?[SyscallAbi.X86_64], defaultRet, is32Bit: false);
        }
        if (x86)
        {
            a.Mark(i386Section);
            a.Load(DataNr);
            EmitAbi(a, rules[SyscallAbi.X86], highest?[SyscallAbi.X86], defaultRet, is32Bit: true);
        }
        return a.Build();
    }

    /// <summary>One ABI's section; the syscall number is in A. Every path ends in a return.</summary>
    static void EmitAbi(Assembler a, SortedDictionary<uint, List<Rule>> rules, uint? highest, uint defaultRet, bool is32Bit)
    {
        // runc leaves the stub out for an architecture whose profile names no syscall it knows.
        if (highest is > 0)
        {
            a.Emit(Bpf.JMP | Bpf.JGT | Bpf.K, highest.Value, 0, 1);
            a.Return(RetErrno | ENOSYS);
        }
        var numbers = rules.Keys.ToArray();
        EmitSearch(a, numbers, 0, numbers.Length, rules, defaultRet, is32Bit);
    }

    /// <summary>Binary search over numbers[from..to); A holds the syscall number on entry and stays loaded.</summary>
    static void EmitSearch(Assembler a, uint[] numbers, int from, int to, SortedDictionary<uint, List<Rule>> rules, uint defaultRet, bool is32Bit)
    {
        if (to - from > LeafSize)
        {
            int mid = from + (to - from) / 2;
            var upper = a.NewLabel();
            a.Emit(Bpf.JMP | Bpf.JGE | Bpf.K, numbers[mid], 0, 1);
            a.Jump(upper);
            EmitSearch(a, numbers, from, mid, rules, defaultRet, is32Bit);
            a.Mark(upper);
            EmitSearch(a, numbers, mid, to, rules, defaultRet, is32Bit);
            return;
        }
        var bodies = new List<List<SockFilter>>();
        var bodyOf = new int[to - from];
        for (int i = from; i < to; i++)
        {
            var body = SyscallBody(rules[numbers[i]], defaultRet, is32Bit);
            // Syscalls with the same rules (most often: a plain ALLOW) share one copy of them.
            int same = bodies.FindIndex(b => b.SequenceEqual(body));
            if (same < 0)
            {
                same = bodies.Count;
                bodies.Add(body);
            }
            bodyOf[i - from] = same;
        }
        // Layout: one `jeq nr` per syscall jumping to its rules, the default return, then the distinct rules.
        var starts = new int[bodies.Count];
        for (int b = 1; b < bodies.Count; b++) starts[b] = starts[b - 1] + bodies[b - 1].Count;
        int tests = to - from;
        if (tests + bodies.Sum(b => b.Count) <= byte.MaxValue + 1)
        {
            for (int i = 0; i < tests; i++)
                a.Emit(Bpf.JMP | Bpf.JEQ | Bpf.K, numbers[from + i], (byte)(tests - i + starts[bodyOf[i]]), 0);
            a.Return(defaultRet);
            foreach (var body in bodies) a.Append(body);
            return;
        }
        // Rules too long for 8-bit jumps: each syscall's rules inline, skipped with a long jump when it is not this one.
        for (int i = from; i < to; i++)
        {
            var next = a.NewLabel();
            a.Emit(Bpf.JMP | Bpf.JEQ | Bpf.K, numbers[i], 1, 0);
            a.Jump(next);
            a.Append(bodies[bodyOf[i - from]]);
            a.Mark(next);
        }
        a.Return(defaultRet);
    }

    /// <summary>
    /// The rules of one syscall, in order: each rule's conditions, then its return; a failed condition jumps to the
    /// next rule. Conditions load arguments, so A no longer holds the number: every path returns.
    /// </summary>
    static List<SockFilter> SyscallBody(List<Rule> rules, uint defaultRet, bool is32Bit)
    {
        var body = new List<SockFilter>();
        foreach (var rule in rules)
        {
            if (rule.Conditions.Count == 0)
            {
                body.Add(Ret(rule.Ret));
                return body; // later rules can never be reached
            }
            var block = new List<Insn>();
            foreach (var c in rule.Conditions) EmitCondition(block, c, is32Bit);
            block.Add(new Insn(Ret(rule.Ret)));
            // A failed condition lands just past this rule's return.
            for (int i = 0; i < block.Count; i++)
            {
                var insn = block[i].Filter;
                int toFail = block.Count - (i + 1);
                if (toFail > byte.MaxValue) throw new InvalidOperationException("a rule's conditions exceed a short jump");
                body.Add(insn with
                {
                    Jt = block[i].JtFails ? (byte)toFail : insn.Jt,
                    Jf = block[i].JfFails ? (byte)toFail : insn.Jf,
                });
            }
        }
        body.Add(Ret(defaultRet));
        return body;
    }

    /// <summary>A jump whose true or false branch goes to "condition failed", patched once the rule's length is known.</summary>
    readonly record struct Insn(SockFilter Filter, bool JtFails = false, bool JfFails = false);

    /// <summary>
    /// One condition on a 64-bit argument, comparing the high halves first and the low halves only when the high
    /// ones are equal, as libseccomp does; unsigned, like BPF's jumps. On the 32-bit x86 ABI an argument is a
    /// 32-bit register, so only the low halves are compared. Falls through when the condition holds.
    /// </summary>
    static void EmitCondition(List<Insn> block, Condition c, bool is32Bit)
    {
        uint lowOffset = DataArgs + 8 * c.Index, highOffset = lowOffset + 4;
        uint hi = (uint)(c.Value >> 32), lo = (uint)c.Value;
        static SockFilter Ld(uint offset) => new(Bpf.LD | Bpf.W | Bpf.ABS, 0, 0, offset);
        static SockFilter J(ushort op, uint k, byte jt = 0, byte jf = 0) => new((ushort)(Bpf.JMP | op | Bpf.K), jt, jf, k);

        switch (c.Op)
        {
            case Op.Eq:
                if (!is32Bit)
                {
                    block.Add(new(Ld(highOffset)));
                    block.Add(new(J(Bpf.JEQ, hi), JfFails: true));
                }
                block.Add(new(Ld(lowOffset)));
                block.Add(new(J(Bpf.JEQ, lo), JfFails: true));
                break;
            case Op.Ne:
                if (!is32Bit)
                {
                    // High halves differ: the condition holds, skip the low test.
                    block.Add(new(Ld(highOffset)));
                    block.Add(new(J(Bpf.JEQ, hi, 0, 2)));
                }
                block.Add(new(Ld(lowOffset)));
                block.Add(new(J(Bpf.JEQ, lo), JtFails: true));
                break;
            case Op.MaskedEq:
                uint maskHi = hi, maskLo = lo, wantHi = (uint)(c.ValueTwo >> 32), wantLo = (uint)c.ValueTwo;
                if (!is32Bit)
                {
                    block.Add(new(Ld(highOffset)));
                    block.Add(new(new SockFilter(Bpf.ALU | Bpf.AND | Bpf.K, 0, 0, maskHi)));
                    block.Add(new(J(Bpf.JEQ, wantHi), JfFails: true));
                }
                block.Add(new(Ld(lowOffset)));
                block.Add(new(new SockFilter(Bpf.ALU | Bpf.AND | Bpf.K, 0, 0, maskLo)));
                block.Add(new(J(Bpf.JEQ, wantLo), JfFails: true));
                break;
            case Op.Gt or Op.Ge:
                if (!is32Bit)
                {
                    block.Add(new(Ld(highOffset)));
                    block.Add(new(J(Bpf.JGT, hi, 3, 0)));          // high above: holds (skip jeq, ld, low test)
                    block.Add(new(J(Bpf.JEQ, hi), JfFails: true)); // high below: fails
                }
                block.Add(new(Ld(lowOffset)));
                block.Add(new(J(c.Op == Op.Gt ? Bpf.JGT : Bpf.JGE, lo), JfFails: true));
                break;
            case Op.Lt or Op.Le:
                if (!is32Bit)
                {
                    block.Add(new(Ld(highOffset)));
                    block.Add(new(J(Bpf.JGT, hi), JtFails: true)); // high above: fails
                    block.Add(new(J(Bpf.JEQ, hi, 0, 2)));          // high below: holds (skip ld, low test)
                }
                block.Add(new(Ld(lowOffset)));
                // lo < L  ⇔ !(lo >= L);  lo <= L ⇔ !(lo > L)
                block.Add(new(J(c.Op == Op.Lt ? Bpf.JGE : Bpf.JGT, lo), JtFails: true));
                break;
        }
    }

    static SockFilter Ret(uint value) => new(Bpf.RET | Bpf.K, 0, 0, value);

    /// <summary>
    /// Collects instructions; only unconditional jumps (32-bit offsets) go to labels, so no conditional jump ever
    /// needs more than its 8-bit offset: a conditional jump to a label is "skip the next instruction or take it",
    /// the next one being <c>ja label</c>.
    /// </summary>
    sealed class Assembler
    {
        readonly List<SockFilter> code = [];
        readonly List<(int At, int Label)> fixups = [];
        readonly List<int> labels = [];

        public int NewLabel()
        {
            labels.Add(-1);
            return labels.Count - 1;
        }

        public void Mark(int label) => labels[label] = code.Count;

        public void Emit(ushort op, uint k, byte jt = 0, byte jf = 0) => code.Add(new SockFilter(op, jt, jf, k));

        public void Append(IEnumerable<SockFilter> filters) => code.AddRange(filters);

        public void Load(uint offset) => Emit(Bpf.LD | Bpf.W | Bpf.ABS, offset);

        public void Return(uint value) => Emit(Bpf.RET | Bpf.K, value);

        public void Jump(int label)
        {
            fixups.Add((code.Count, label));
            Emit(Bpf.JMP | Bpf.JA, 0);
        }

        public void JumpIfEqual(uint k, int label)
        {
            Emit(Bpf.JMP | Bpf.JEQ | Bpf.K, k, 0, 1);
            Jump(label);
        }

        public void JumpIfBitsSet(uint k, int label)
        {
            Emit(Bpf.JMP | Bpf.JSET | Bpf.K, k, 0, 1);
            Jump(label);
        }

        public SockFilter[] Build()
        {
            foreach (var (at, label) in fixups)
            {
                int target = labels[label];
                if (target < 0) throw new InvalidOperationException("jump to an unplaced label");
                code[at] = code[at] with { K = (uint)(target - (at + 1)) };
            }
            return [.. code];
        }
    }
}
