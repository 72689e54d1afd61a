using Berth.Oci;
using Berth.Seccomp;
using static Berth.Seccomp.Tests.Profiles;

namespace Berth.Seccomp.Tests;

/// <summary>What cannot be compiled fails with the JSON path of the culprit and the value.</summary>
public class ProfileErrorTests
{
    static SeccompProfileException Fails(LinuxSeccomp profile) => Assert.Throws<SeccompProfileException>(() => SeccompCompiler.Compile(profile));

    [Fact]
    public void UnknownAction_NamesThePath()
    {
        var e = Fails(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ALLOW", "read"), Rule("SCMP_ACT_ALLOW", "write"), Rule("SCMP_ACT_ALLOW", "open"), Rule("SCMP_ACT_DENY", "mkdir")));
        Assert.Equal("$.linux.seccomp.syscalls[3].action", e.Path);
        Assert.Contains("SCMP_ACT_DENY", e.Message);
        Assert.StartsWith("$.linux.seccomp.syscalls[3].action: unknown seccomp action", e.Message);
    }

    [Fact]
    public void UnknownDefaultAction_And_MissingDefaultAction()
    {
        Assert.Equal("$.linux.seccomp.defaultAction", Fails(Profile("SCMP_ACT_NOPE")).Path);
        Assert.Equal("$.linux.seccomp.defaultAction", Fails(new LinuxSeccomp()).Path);
    }

    [Fact]
    public void UnknownOperator_NamesThePath()
    {
        var e = Fails(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "socket", Arg(0, "SCMP_CMP_EQ", 2), Arg(1, "SCMP_CMP_BETWEEN", 1))));
        Assert.Equal("$.linux.seccomp.syscalls[0].args[1].op", e.Path);
        Assert.Contains("SCMP_CMP_BETWEEN", e.Message);
    }

    [Fact]
    public void ArgumentIndexOutOfRange()
    {
        Assert.Equal("$.linux.seccomp.syscalls[0].args[0].index", Fails(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "socket", Arg(6, "SCMP_CMP_EQ", 2)))).Path);
    }

    [Fact]
    public void UnknownArchitecture_NamesThePath()
    {
        var profile = Profile("SCMP_ACT_ALLOW");
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"];
        var e = Fails(profile);
        Assert.Equal("$.linux.seccomp.architectures[1]", e.Path);
        Assert.Contains("SCMP_ARCH_VAX", e.Message);
    }

    [Fact]
    public void OtherMachinesArchitectures_AreAccepted_AndTheNativeOneIsCoveredAnyway()
    {
        var profile = Profile("SCMP_ACT_ALLOW");
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"];
        var withNative = SeccompCompiler.Compile(profile).Program;
        // As libseccomp, whose filter always covers the native architecture.
        profile.Architectures = ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
        Assert.Equal(withNative, SeccompCompiler.Compile(profile).Program);
    }

    [Fact]
    public void UnknownFlag_NamesThePath()
    {
        var profile = Profile("SCMP_ACT_ALLOW");
        profile.Flags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS"];
        var e = Fails(profile);
        Assert.Equal("$.linux.seccomp.flags[1]", e.Path);
        Assert.Contains("SECCOMP_FILTER_FLAG_BOGUS", e.Message);
    }

    [Fact]
    public void Notify_WithoutListenerPath_IsRefused()
    {
        var e = Fails(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_NOTIFY", "mkdir")));
        Assert.Equal("$.linux.seccomp.listenerPath", e.Path);
        Assert.Contains("SCMP_ACT_NOTIFY", e.Message);
    }

    [Fact]
    public void Notify_AsDefaultAction_IsRefused()
    {
        var profile = Profile("SCMP_ACT_NOTIFY", Rule("SCMP_ACT_ALLOW", "getpid"));
        profile.ListenerPath = "/run/agent.sock";
        var e = Fails(profile);
        Assert.Equal("$.linux.seccomp.defaultAction", e.Path);
        Assert.Contains("cannot be the default action", e.Message);
    }

    [Theory]
    [InlineData("write")]
    [InlineData("sendmsg")]
    public void Notify_OnTheSyscallsThatHandOverTheFd_IsRefused(string name)
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ALLOW", "read"), new LinuxSyscall { Names = ["mkdir", name], Action = "SCMP_ACT_NOTIFY" });
        profile.ListenerPath = "/run/agent.sock";
        var e = Fails(profile);
        Assert.Equal("$.linux.seccomp.syscalls[1].names[1]", e.Path);
        Assert.Contains($"the {name} syscall", e.Message);
    }

    [Fact]
    public void ErrnoRet_MustFit16Bits()
    {
        var e = Fails(Profile("SCMP_ACT_ALLOW", new LinuxSyscall { Names = ["mkdir"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 70000 }));
        Assert.Equal("$.linux.seccomp.syscalls[0].errnoRet", e.Path);
    }

    [Fact]
    public void EmptyNames_AreRefused()
    {
        Assert.Equal("$.linux.seccomp.syscalls[0].names", Fails(Profile("SCMP_ACT_ALLOW", new LinuxSyscall { Names = [], Action = "SCMP_ACT_ERRNO" })).Path);
        Assert.Equal("$.linux.seccomp.syscalls[0].names[1]", Fails(Profile("SCMP_ACT_ALLOW", new LinuxSyscall { Names = ["mkdir", ""], Action = "SCMP_ACT_ERRNO" })).Path);
    }
}
