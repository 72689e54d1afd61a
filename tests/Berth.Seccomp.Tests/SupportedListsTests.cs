using Berth.Oci;

namespace Berth.Seccomp.Tests;

/// <summary>What `features` advertises from the compiler's lists must really compile.</summary>
public class SupportedListsTests
{
    static LinuxSeccomp Profile(string action = "SCMP_ACT_ALLOW", string op = "SCMP_CMP_EQ", string arch = "SCMP_ARCH_X86_64", string? flag = null) => new()
    {
        DefaultAction = "SCMP_ACT_ERRNO",
        Architectures = [arch],
        Flags = flag is null ? null : [flag],
        ListenerPath = action == "SCMP_ACT_NOTIFY" ? "/run/agent.sock" : null,
        Syscalls = [new LinuxSyscall { Names = ["personality"], Action = action, Args = [new LinuxSeccompArg { Index = 0, Value = 8, ValueTwo = 8, Op = op }] }],
    };

    [Fact]
    public void EveryAdvertisedActionCompiles()
    {
        foreach (var action in SeccompCompiler.SupportedActions)
            Assert.NotEmpty(SeccompCompiler.Compile(Profile(action: action)).Program);
    }

    [Fact]
    public void EveryAdvertisedOperatorArchitectureAndFlagCompiles()
    {
        foreach (var op in SeccompCompiler.SupportedOperators) Assert.NotEmpty(SeccompCompiler.Compile(Profile(op: op)).Program);
        foreach (var arch in SeccompCompiler.SupportedArchitectures) Assert.NotEmpty(SeccompCompiler.Compile(Profile(arch: arch)).Program);
        foreach (var flag in SeccompCompiler.KnownFlags) Assert.NotEmpty(SeccompCompiler.Compile(Profile(flag: flag)).Program);
    }

    [Fact]
    public void NotifyIsAdvertised_AndCompiles()
    {
        Assert.Contains("SCMP_ACT_NOTIFY", SeccompCompiler.SupportedActions);
        Assert.True(SeccompCompiler.Compile(Profile(action: "SCMP_ACT_NOTIFY")).NewListener);
        Assert.Contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SeccompCompiler.SupportedFlags);
    }
}
