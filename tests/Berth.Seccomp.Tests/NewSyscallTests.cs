using static Berth.Seccomp.Tests.Profiles;

namespace Berth.Seccomp.Tests;

/// <summary>
/// System calls added after linux 6.1 (the headers the tables are generated from) are known by name, so a profile
/// that names them (Docker's newer profiles name fchmodat2, mseal...) filters them instead of failing or leaving
/// them to the ENOSYS stub.
/// </summary>
public class NewSyscallTests
{
    [Theory]
    [InlineData("cachestat", 451u)]
    [InlineData("fchmodat2", 452u)]
    [InlineData("futex_wait", 455u)]
    [InlineData("statmount", 457u)]
    [InlineData("mseal", 462u)]
    [InlineData("open_tree_attr", 467u)]
    [InlineData("file_setattr", 469u)]
    public void HasOneNumber_OnEveryAbi(string name, uint nr)
    {
        Assert.Equal(nr, Nr(name, SyscallAbi.X86_64));
        Assert.Equal(nr, Nr(name, SyscallAbi.X86));
        Assert.Equal(0x40000000u + nr, Nr(name, SyscallAbi.X32));
    }

    [Fact]
    public void Uretprobe_IsX86_64Only()
    {
        Assert.Equal(335u, Nr("uretprobe"));
        Assert.False(Syscalls.TryGetNumber(SyscallAbi.X86, "uretprobe", out _));
    }

    [Fact]
    public void ANamedNewSyscall_IsFiltered_AndOnesAfterIt_GetEnosys()
    {
        var filter = SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", "fchmodat2"), Rule("SCMP_ACT_ALLOW", "getpid")));
        Assert.Equal(Allow, Run(filter, "fchmodat2"));
        Assert.Equal(Allow, Run(filter, "getpid"));
        Assert.Equal(Eperm, Run(filter, "mkdir"));
        // Newer than anything the profile names: ENOSYS, so that a libc falls back to the older call.
        Assert.Equal(Enosys, Run(filter, "mseal"));
    }
}
