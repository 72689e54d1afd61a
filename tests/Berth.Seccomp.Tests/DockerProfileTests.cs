using Berth.Seccomp;
using static Berth.Seccomp.SeccompConstants;
using static Berth.Seccomp.Tests.Profiles;

namespace Berth.Seccomp.Tests;

public class DockerProfileTests
{
    static readonly SeccompFilter Filter = SeccompCompiler.Compile(DockerProfile.Load());

    static uint Call(SyscallAbi abi, string name, params ulong[] args) =>
        BpfInterpreter.Run(Filter.Program, new SeccompData(abi == SyscallAbi.X86 ? I386 : X64, Nr(name, abi), args));

    [Fact]
    public void Compiles_WithinTheKernelLimit()
    {
        Assert.InRange(Filter.Program.Length, 100, Bpf.MaxInstructions);
        Assert.Equal(0u, Filter.Flags);
    }

    [Theory]
    [InlineData(SyscallAbi.X86_64)]
    [InlineData(SyscallAbi.X86)]
    [InlineData(SyscallAbi.X32)]
    public void EveryUnconditionallyAllowedSyscall_IsAllowed_OnEachAbi(SyscallAbi abi)
    {
        var profile = DockerProfile.Load();
        int checkedCount = 0;
        foreach (var rule in profile.Syscalls!.Where(r => r.Action == "SCMP_ACT_ALLOW" && r.Args is null))
            foreach (var name in rule.Names)
            {
                if (!Syscalls.TryGetNumber(abi, name, out _)) continue;
                Assert.True(Allow == Call(abi, name), $"{name} on {abi}");
                checkedCount++;
            }
        Assert.True(checkedCount > 250, $"only {checkedCount} syscalls checked");
    }

    [Theory]
    [InlineData(SyscallAbi.X86_64)]
    [InlineData(SyscallAbi.X86)]
    [InlineData(SyscallAbi.X32)]
    public void DangerousSyscalls_AreDenied_WithEperm(SyscallAbi abi)
    {
        foreach (var name in new[] { "mount", "umount2", "unshare", "setns", "kexec_load", "init_module", "bpf", "pivot_root", "reboot", "keyctl", "add_key", "swapon" })
            if (Syscalls.TryGetNumber(abi, name, out _))
                Assert.True(Eperm == Call(abi, name), $"{name} on {abi}");
    }

    [Fact]
    public void Clone3_GetsEnosys_SoGlibcFallsBackToClone()
    {
        Assert.Equal(Enosys, Call(SyscallAbi.X86_64, "clone3"));
    }

    [Fact]
    public void Clone_IsAllowed_WithoutNamespaceFlags()
    {
        const ulong threadFlags = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
        Assert.Equal(Allow, Call(SyscallAbi.X86_64, "clone", threadFlags));
        Assert.Equal(Allow, Call(SyscallAbi.X86_64, "clone", 17 /* SIGCHLD: fork */));
        Assert.Equal(Eperm, Call(SyscallAbi.X86_64, "clone", 0x10000000 /* CLONE_NEWUSER */ | 17));
        Assert.Equal(Eperm, Call(SyscallAbi.X86_64, "clone", 0x20000 /* CLONE_NEWNS */));
    }

    [Fact]
    public void Personality_IsAllowed_OnlyForTheListedValues()
    {
        foreach (ulong ok in new ulong[] { 0, 8, 0x20000, 0x20008, 0xffffffff })
            Assert.Equal(Allow, Call(SyscallAbi.X86_64, "personality", ok));
        foreach (ulong bad in new ulong[] { 1, 0x400000 /* READ_IMPLIES_EXEC */, 0x1_00000000 })
            Assert.Equal(Eperm, Call(SyscallAbi.X86_64, "personality", bad));
    }

    [Fact]
    public void SyscallsNewerThanTheProfile_GetEnosys()
    {
        // The profile's highest x86_64 syscall is futex_waitv (449): set_mempolicy_home_node (450) and later
        // ones are unknown to it.
        Assert.Equal(449u, Nr("futex_waitv"));
        Assert.Equal(Allow, Call(SyscallAbi.X86_64, "futex_waitv"));
        Assert.Equal(Enosys, Call(SyscallAbi.X86_64, "set_mempolicy_home_node"));
        Assert.Equal(Enosys, BpfInterpreter.Run(Filter.Program, new SeccompData(X64, 451)));
        Assert.Equal(Enosys, BpfInterpreter.Run(Filter.Program, new SeccompData(I386, 1000)));
        Assert.Equal(RetKillProcess, BpfInterpreter.Run(Filter.Program, new SeccompData(0xc00000b7, 0)));
    }
}
