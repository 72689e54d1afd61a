using Berth.Seccomp;
using static Berth.Seccomp.Tests.Profiles;

namespace Berth.Seccomp.Tests;

/// <summary>Exact programs for small profiles, checked by hand instruction by instruction.</summary>
public class GoldenProgramTests
{
    static string Listing(SockFilter[] program) => string.Join("\n", program.Select((f, i) => $"{i,2} {f}"));

    [Fact]
    public void AllowByDefault_DenyMkdir()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", "mkdir")));
        Assert.Equal("""
             0 ld [4]
             1 jeq 0xc000003e 0 1
             2 ja +1
             3 ret 0x80000000
             4 ld [0]
             5 jset 0x40000000 0 1
             6 ret 0x80000000
             7 jeq 0x53 1 0
             8 ret 0x7fff0000
             9 ret 0x00050001
            """, Listing(filter.Program));
        Assert.Equal(0u, filter.Flags);
    }

    [Fact]
    public void ErrnoByDefault_WithEnosysStubAndAnArgumentCondition()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "personality", Arg(0, "SCMP_CMP_EQ", 0xffffffff)),
            Rule("SCMP_ACT_ALLOW", "getpid")));
        // getpid is 39, personality 135: the stub answers ENOSYS (38) above 135; the tests jump past the default
        // return to their rules; personality's compares the high half (offset 20) with 0 and the low half
        // (offset 16) with 0xffffffff, else falls to EPERM.
        Assert.Equal("""
             0 ld [4]
             1 jeq 0xc000003e 0 1
             2 ja +1
             3 ret 0x80000000
             4 ld [0]
             5 jset 0x40000000 0 1
             6 ret 0x80000000
             7 jgt 0x87 0 1
             8 ret 0x00050026
             9 jeq 0x27 2 0
            10 jeq 0x87 2 0
            11 ret 0x00050001
            12 ret 0x7fff0000
            13 ld [20]
            14 jeq 0x0 0 3
            15 ld [16]
            16 jeq 0xffffffff 0 1
            17 ret 0x7fff0000
            18 ret 0x00050001
            """, Listing(filter.Program));
    }

    [Fact]
    public void ThreeAbis_EachGetsItsSection()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_KILL_PROCESS", "mkdir"));
        profile.Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
        var filter = SeccompCompiler.Compile(profile);
        // mkdir: 83 on x86_64, 39 on i386, 0x40000053 on x32.
        Assert.Equal("""
             0 ld [4]
             1 jeq 0xc000003e 0 1
             2 ja +3
             3 jeq 0x40000003 0 1
             4 ja +10
             5 ret 0x80000000
             6 ld [0]
             7 jset 0x40000000 0 1
             8 ja +3
             9 jeq 0x53 1 0
            10 ret 0x7fff0000
            11 ret 0x80000000
            12 jeq 0x40000053 1 0
            13 ret 0x7fff0000
            14 ret 0x80000000
            15 ld [0]
            16 jeq 0x27 1 0
            17 ret 0x7fff0000
            18 ret 0x80000000
            """, Listing(filter.Program));
    }

    [Fact]
    public void SyscallsWithTheSameRules_ShareOneReturn()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO",
            new Oci.LinuxSyscall { Names = ["read", "write", "close"], Action = "SCMP_ACT_ALLOW" }));
        Assert.Equal("""
             0 ld [4]
             1 jeq 0xc000003e 0 1
             2 ja +1
             3 ret 0x80000000
             4 ld [0]
             5 jset 0x40000000 0 1
             6 ret 0x80000000
             7 jgt 0x3 0 1
             8 ret 0x00050026
             9 jeq 0x0 3 0
            10 jeq 0x1 2 0
            11 jeq 0x3 1 0
            12 ret 0x00050001
            13 ret 0x7fff0000
            """, Listing(filter.Program));
    }

    [Fact]
    public void SameProfile_SameProgram()
    {
        var docker = DockerProfile.Load();
        Assert.Equal(SeccompCompiler.Compile(docker).Program, SeccompCompiler.Compile(DockerProfile.Load()).Program);
    }
}
