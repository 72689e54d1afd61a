using Berth.Oci;
using Berth.Runtime.Configs;
using Berth.Runtime.Init;
using Berth.Seccomp;

namespace Berth.Runtime.Tests;

/// <summary>The compiled filter travels to init in its request, so that init installs exactly what create compiled.</summary>
public class SeccompProgramTests
{
    static LinuxSeccomp Profile() => new()
    {
        DefaultAction = "SCMP_ACT_ERRNO",
        Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        Flags = ["SECCOMP_FILTER_FLAG_LOG"],
        ListenerPath = "/run/agent.sock",
        Syscalls =
        [
            new LinuxSyscall { Names = ["read", "write", "exit_group"], Action = "SCMP_ACT_ALLOW" },
            new LinuxSyscall { Names = ["mkdir"], Action = "SCMP_ACT_NOTIFY" },
            new LinuxSyscall { Names = ["personality"], Action = "SCMP_ACT_ALLOW", Args = [new LinuxSeccompArg { Index = 0, Op = "SCMP_CMP_EQ", Value = 0xffffffff }] },
        ],
    };

    [Fact]
    public void Program_SurvivesTheInitRequest_Exactly()
    {
        var filter = SeccompCompiler.Compile(Profile());
        var request = new InitRequest { Config = ConfigConverter.Convert(DefaultSpec.Create(false), "/b"), Bundle = "/b", Id = "c1", Seccomp = SeccompProgram.From(filter) };

        var back = InitWire.DecodeRequest(InitWire.Encode(request)).Seccomp!.ToFilter();

        Assert.Equal(filter.Program, back.Program);
        Assert.Equal(filter.Flags, back.Flags);
        Assert.True(back.NewListener);
    }

    [Fact]
    public void Convert_CompilesTheProfile()
    {
        var spec = DefaultSpec.Create(false);
        spec.Linux!.Seccomp = Profile();

        Assert.Equal(SeccompCompiler.Compile(Profile()).Program, ConfigConverter.Convert(spec, "/b").SeccompFilter!.Program);
    }

    [Fact]
    public void ATruncatedProgram_IsRejected()
    {
        Assert.Throws<InvalidDataException>(() => new SeccompProgram { Instructions = new byte[12] }.ToFilter());
    }
}
