using Berth.Oci;
using Berth.Seccomp;
using static Berth.Seccomp.SeccompConstants;
using static Berth.Seccomp.Tests.Profiles;

namespace Berth.Seccomp.Tests;

/// <summary>Compiled filters run in the interpreter against seccomp_data inputs: the action is what the profile says.</summary>
public class FilterBehaviourTests
{
    static readonly ulong[] Edges =
    [
        0, 1, 2, 7, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x1_00000000, 0x1_00000001, 0x1_ffffffff,
        0x2_00000000, 0xffffffff_00000000, 0xffffffff_fffffffe, ulong.MaxValue, 0x12345678_9abcdef0, 0x12345678_00000000,
        0x00000000_9abcdef0, 0x7fffffff_ffffffff, 0x80000000_00000000,
    ];

    static IEnumerable<ulong> Values()
    {
        var random = new Random(4);
        foreach (var v in Edges) yield return v;
        for (int i = 0; i < 20; i++) yield return (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
    }

    public static TheoryData<string> Ops => new() { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };

    static bool Holds(string op, ulong arg, ulong value, ulong valueTwo) => op switch
    {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => (arg & value) == valueTwo,
        _ => throw new ArgumentException(op),
    };

    [Theory]
    [MemberData(nameof(Ops))]
    public void EveryOperator_On64BitArguments_MatchesUnsignedComparison(string op)
    {
        var values = Values().ToList();
        int denied = 0, allowed = 0;
        foreach (var value in values)
        {
            // For MASKED_EQ, value is the mask and valueTwo the wanted bits: take them from the value itself and
            // from a neighbour, so both the matching and the failing cases occur.
            ulong valueTwo = op == "SCMP_CMP_MASKED_EQ" ? value & 0xff00ff00_ff00ff00 : 0;
            foreach (int argIndex in new[] { 0, 3, 5 })
            {
                var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mkdir", Arg((uint)argIndex, op, value, valueTwo))));
                foreach (var arg in values.Concat([value, value + 1, value - 1, valueTwo, valueTwo | 0xff]))
                {
                    var args = new ulong[6];
                    args[argIndex] = arg;
                    args[(argIndex + 1) % 6] = ~arg; // other arguments must not matter
                    uint expected = Holds(op, arg, value, valueTwo) ? Eperm : Allow;
                    Assert.True(expected == Run(filter, "mkdir", args),
                        $"{op} args[{argIndex}]=0x{arg:x} value=0x{value:x} valueTwo=0x{valueTwo:x}: expected {(expected == Eperm ? "deny" : "allow")}");
                    if (expected == Eperm) denied++; else allowed++;
                }
            }
        }
        Assert.True(denied > 50 && allowed > 50, $"both outcomes must be exercised ({denied} denied, {allowed} allowed)");
    }

    [Fact]
    public void SeveralArgs_InOneRule_AreAnded()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW",
            Rule("SCMP_ACT_ERRNO", "socket", Arg(0, "SCMP_CMP_EQ", 2), Arg(1, "SCMP_CMP_MASKED_EQ", 0xf, 1))));
        Assert.Equal(Eperm, Run(filter, "socket", 2, 1));
        Assert.Equal(Eperm, Run(filter, "socket", 2, 0x80801)); // SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC
        Assert.Equal(Allow, Run(filter, "socket", 2, 2));
        Assert.Equal(Allow, Run(filter, "socket", 10, 1));
        Assert.Equal(Allow, Run(filter, "socket", 0x1_00000002, 1));
    }

    [Fact]
    public void TwoConditions_OnTheSameArg_AreOred_AsRuncDoes()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW",
            Rule("SCMP_ACT_ERRNO", "personality", Arg(0, "SCMP_CMP_EQ", 1), Arg(0, "SCMP_CMP_EQ", 8))));
        Assert.Equal(Eperm, Run(filter, "personality", 1));
        Assert.Equal(Eperm, Run(filter, "personality", 8));
        Assert.Equal(Allow, Run(filter, "personality", 0));
    }

    [Fact]
    public void SeveralRules_ForOneSyscall_AreOred_FirstMatchDecides()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "personality", Arg(0, "SCMP_CMP_EQ", 0)),
            Rule("SCMP_ACT_ALLOW", "personality", Arg(0, "SCMP_CMP_EQ", 0xffffffff)),
            new LinuxSyscall { Names = ["personality"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 22, Args = [Arg(0, "SCMP_CMP_GE", 0x100)] },
            Rule("SCMP_ACT_TRAP", "personality")));
        Assert.Equal(Allow, Run(filter, "personality", 0));
        Assert.Equal(Allow, Run(filter, "personality", 0xffffffff));
        Assert.Equal(RetErrno | 22, Run(filter, "personality", 0x100));
        Assert.Equal(RetErrno | 22, Run(filter, "personality", 0x1_00000000));
        Assert.Equal(RetTrap, Run(filter, "personality", 8));
    }

    [Fact]
    public void EveryAction_HasItsKernelReturnValue()
    {
        var profile = Profile("SCMP_ACT_ALLOW",
            Rule("SCMP_ACT_KILL", "mkdir"),
            Rule("SCMP_ACT_KILL_THREAD", "rmdir"),
            Rule("SCMP_ACT_KILL_PROCESS", "unlink"),
            Rule("SCMP_ACT_TRAP", "link"),
            Rule("SCMP_ACT_ERRNO", "chmod"),
            new LinuxSyscall { Names = ["chown"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 95 },
            Rule("SCMP_ACT_TRACE", "rename"),
            new LinuxSyscall { Names = ["symlink"], Action = "SCMP_ACT_TRACE", ErrnoRet = 1234 },
            Rule("SCMP_ACT_LOG", "getpid"));
        var filter = SeccompCompiler.Compile(profile);
        Assert.Equal(RetKillThread, Run(filter, "mkdir"));
        Assert.Equal(RetKillThread, Run(filter, "rmdir"));
        Assert.Equal(RetKillProcess, Run(filter, "unlink"));
        Assert.Equal(RetTrap, Run(filter, "link"));
        Assert.Equal(RetErrno | EPERM, Run(filter, "chmod"));
        Assert.Equal(RetErrno | 95, Run(filter, "chown"));
        Assert.Equal(RetTrace | EPERM, Run(filter, "rename"));
        Assert.Equal(RetTrace | 1234, Run(filter, "symlink"));
        Assert.Equal(RetLog, Run(filter, "getpid"));
        Assert.Equal(RetAllow, Run(filter, "getppid"));
    }

    [Fact]
    public void DefaultErrnoRet_IsTheDefaultsErrno()
    {
        var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "write"));
        profile.DefaultErrnoRet = 13;
        var filter = SeccompCompiler.Compile(profile);
        Assert.Equal(RetErrno | 13, Run(filter, "read"));
        Assert.Equal(Allow, Run(filter, "write"));
    }

    [Fact]
    public void ARule_WithTheDefaultAction_ChangesNothing()
    {
        // runc skips it; if it were compiled first-match, it would shadow the ALLOW rule below.
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ERRNO", "personality", Arg(0, "SCMP_CMP_EQ", 0)),
            Rule("SCMP_ACT_ALLOW", "personality")));
        Assert.Equal(Allow, Run(filter, "personality", 0));
    }

    [Fact]
    public void EnosysStub_AboveTheHighestNamedSyscall_WhenTheDefaultDenies()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "write"), Rule("SCMP_ACT_ALLOW", "openat")));
        uint openat = Nr("openat");
        Assert.Equal(Allow, Run(filter, "openat"));
        Assert.Equal(Eperm, BpfInterpreter.Run(filter.Program, new SeccompData(X64, openat - 1)));
        Assert.Equal(Eperm, BpfInterpreter.Run(filter.Program, new SeccompData(X64, 0)));
        Assert.Equal(Enosys, BpfInterpreter.Run(filter.Program, new SeccompData(X64, openat + 1)));
        Assert.Equal(Enosys, BpfInterpreter.Run(filter.Program, new SeccompData(X64, 1000)));

        // Kill and trap defaults get the stub too (runc: every default but ALLOW, LOG and TRACE).
        foreach (var action in new[] { "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP" })
        {
            var f = SeccompCompiler.Compile(Profile(action, Rule("SCMP_ACT_ALLOW", "write")));
            Assert.Equal(Enosys, BpfInterpreter.Run(f.Program, new SeccompData(X64, 1000)));
            Assert.NotEqual(Enosys, BpfInterpreter.Run(f.Program, new SeccompData(X64, 0)));
        }
    }

    [Theory]
    [InlineData("SCMP_ACT_ALLOW", RetAllow)]
    [InlineData("SCMP_ACT_LOG", RetLog)]
    [InlineData("SCMP_ACT_TRACE", RetTrace | EPERM)]
    public void NoEnosysStub_WhenTheDefaultLetsCallsThrough(string defaultAction, uint expected)
    {
        var filter = SeccompCompiler.Compile(Profile(defaultAction, Rule("SCMP_ACT_ERRNO", "write")));
        Assert.Equal(expected, BpfInterpreter.Run(filter.Program, new SeccompData(X64, 1000)));
        Assert.Equal(Eperm, Run(filter, "write"));
    }

    [Fact]
    public void EnosysStub_RulesNamedWithTheDefaultActionStillCount()
    {
        // runc takes the highest number over all the profile's names, whatever their action.
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "read"), Rule("SCMP_ACT_ERRNO", "openat")));
        Assert.Equal(Eperm, Run(filter, "openat"));
        Assert.Equal(Eperm, Run(filter, "mkdir"));
        Assert.Equal(Enosys, BpfInterpreter.Run(filter.Program, new SeccompData(X64, Nr("openat") + 1)));
    }

    [Fact]
    public void Architectures_EachAbiUsesItsOwnNumbers()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mkdir"), Rule("SCMP_ACT_ERRNO", "chown32"));
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
        var p = SeccompCompiler.Compile(profile).Program;
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(X64, Nr("mkdir"))));
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(I386, Nr("mkdir", SyscallAbi.X86))));
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(X64, Nr("mkdir", SyscallAbi.X32))));
        // chown32 exists on i386 only: ignored on the other ABIs, denied on i386.
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(I386, Nr("chown32", SyscallAbi.X86))));
        Assert.Equal(Allow, BpfInterpreter.Run(p, new SeccompData(I386, Nr("mkdir"))));         // 83 on i386 is symlink
        Assert.Equal(Allow, BpfInterpreter.Run(p, new SeccompData(X64, Nr("mkdir", SyscallAbi.X86)))); // 39 on x86_64 is getpid
        // An architecture the filter does not cover: the whole process is killed (libseccomp kills the thread).
        Assert.Equal(RetKillProcess, BpfInterpreter.Run(p, new SeccompData(0xc00000b7 /* AUDIT_ARCH_AARCH64 */, 83)));
    }

    [Fact]
    public void X86_64Only_KillsTheProcessOnX32AndI386Calls()
    {
        var p = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mkdir"))).Program;
        Assert.Equal(Allow, BpfInterpreter.Run(p, new SeccompData(X64, Nr("getpid"))));
        Assert.Equal(RetKillProcess, BpfInterpreter.Run(p, new SeccompData(X64, Nr("getpid", SyscallAbi.X32))));
        Assert.Equal(RetKillProcess, BpfInterpreter.Run(p, new SeccompData(I386, Nr("getpid", SyscallAbi.X86))));
    }

    /// <summary>
    /// libseccomp always covers the native architecture: a profile that lists only the other ABIs still applies its
    /// rules to x86_64 calls (found from outside: every call of init was killed, and `run` hung).
    /// </summary>
    [Fact]
    public void X32AndX86Only_StillGovernNativeCallsWithTheProfilesRules()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mkdir"));
        profile.Architectures = ["SCMP_ARCH_X86", "SCMP_ARCH_X32"];
        var p = SeccompCompiler.Compile(profile).Program;
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(X64, Nr("mkdir", SyscallAbi.X32))));
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(I386, Nr("mkdir", SyscallAbi.X86))));
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(X64, Nr("mkdir"))));
        Assert.Equal(Allow, BpfInterpreter.Run(p, new SeccompData(X64, Nr("getpid"))));
    }

    [Fact]
    public void I386_ComparesTheLow32Bits()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "personality", Arg(0, "SCMP_CMP_GT", 0x10)));
        profile.Architectures = ["SCMP_ARCH_X86"];
        var p = SeccompCompiler.Compile(profile).Program;
        uint nr = Nr("personality", SyscallAbi.X86);
        Assert.Equal(Eperm, BpfInterpreter.Run(p, new SeccompData(I386, nr, 0x11)));
        Assert.Equal(Allow, BpfInterpreter.Run(p, new SeccompData(I386, nr, 0x10)));
    }

    [Fact]
    public void UnknownSyscallNames_AreIgnored()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "no_such_syscall"), Rule("SCMP_ACT_ALLOW", "getpid")));
        Assert.Equal(Allow, Run(filter, "getpid"));
    }

    [Fact]
    public void Flags_MapToSeccompFilterFlags()
    {
        var profile = Profile("SCMP_ACT_ALLOW");
        profile.Flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"];
        Assert.Equal(FilterFlagTsync | FilterFlagLog | FilterFlagSpecAllow, SeccompCompiler.Compile(profile).Flags);
        Assert.False(SeccompCompiler.Compile(profile).NewListener);
    }

    [Fact]
    public void Notify_ReturnsUserNotif_ForItsRuleOnly_AndAsksForAListener()
    {
        var profile = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", "getpid"),
            Rule("SCMP_ACT_NOTIFY", "mkdir"), Rule("SCMP_ACT_NOTIFY", "mkdirat", Arg(2, "SCMP_CMP_EQ", 0x1ff)));
        profile.ListenerPath = "/run/agent.sock";
        var filter = SeccompCompiler.Compile(profile);
        Assert.Equal(RetUserNotif, Run(filter, "mkdir"));
        Assert.Equal(RetUserNotif, Run(filter, "mkdirat", 0, 0, 0x1ff));
        Assert.Equal(Eperm, Run(filter, "mkdirat", 0, 0, 0x1ed));
        Assert.Equal(Allow, Run(filter, "getpid"));
        Assert.Equal(Eperm, Run(filter, "rmdir"));
        Assert.Equal(FilterFlagNewListener, filter.Flags);
        Assert.True(filter.NewListener);
    }

    [Fact]
    public void Notify_WithFlags_AddsWaitKillableRecv_AndTsyncEsrch()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_NOTIFY", "mkdir"));
        profile.ListenerPath = "/run/agent.sock";
        profile.Flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"];
        Assert.Equal(FilterFlagTsync | FilterFlagTsyncEsrch | FilterFlagNewListener | FilterFlagWaitKillableRecv, SeccompCompiler.Compile(profile).Flags);
    }

    [Fact]
    public void ListenerPath_WithoutNotifyRules_IsAccepted_WithoutAListener()
    {
        // runc runs such a container and never contacts the listener: no rule can notify.
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mkdir"));
        profile.ListenerPath = "/run/agent.sock";
        profile.ListenerMetadata = "bar";
        Assert.False(SeccompCompiler.Compile(profile).NewListener);
    }

    [Fact]
    public void ManySyscalls_BinarySearchFindsEachOne()
    {
        // Every x86_64 syscall with a rule of its own errno: each must come back with its own number.
        var names = Syscalls.All(SyscallAbi.X86_64).Keys.ToList();
        var profile = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = names.Select(n => new LinuxSyscall { Names = [n], Action = "SCMP_ACT_ERRNO", ErrnoRet = Nr(n) + 1 }).ToList(),
        };
        var p = SeccompCompiler.Compile(profile).Program;
        foreach (var n in names) Assert.Equal(RetErrno | (Nr(n) + 1), BpfInterpreter.Run(p, new SeccompData(X64, Nr(n))));
        Assert.Equal(Allow, BpfInterpreter.Run(p, new SeccompData(X64, 10000)));
    }
    [Fact]
    public void RulesTooLongForShortJumps_StillReachEverySyscall()
    {
        // 80 conditional rules on personality (5 instructions each) do not fit 8-bit jumps: the leaf falls back to
        // long jumps around each syscall's rules; its neighbours must still be found.
        var rules = Enumerable.Range(0, 80).Select(v => Rule("SCMP_ACT_ALLOW", "personality", Arg(0, "SCMP_CMP_EQ", (ulong)v * 3))).ToList();
        rules.Add(Rule("SCMP_ACT_ALLOW", "getpid"));
        rules.Add(Rule("SCMP_ACT_ALLOW", "getppid"));
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", [.. rules]));
        Assert.True(filter.Program.Length > 400);
        for (ulong v = 0; v < 240; v++) Assert.Equal(v % 3 == 0 ? Allow : Eperm, Run(filter, "personality", v));
        Assert.Equal(Allow, Run(filter, "getpid"));
        Assert.Equal(Allow, Run(filter, "getppid"));
        Assert.Equal(Eperm, Run(filter, "mkdir"));
    }
}
