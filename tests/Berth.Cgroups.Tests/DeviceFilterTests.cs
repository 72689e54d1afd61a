using Berth.Oci;

namespace Berth.Cgroups.Tests;

/// <summary>
/// The cgroup v2 device filter: its instructions (golden), what it decides (run by a small BPF interpreter over
/// the instructions the kernel would get), and the manager's use of it on a pure v2 host.
/// </summary>
public class DeviceFilterTests
{
    const int Mknod = 1, Read = 2, Write = 4, Block = 1, Char = 2;

    static LinuxDeviceCgroup Rule(bool allow, string? type = null, long? major = null, long? minor = null, string access = "rwm") =>
        new() { Allow = allow, Type = type, Major = major, Minor = minor, Access = access };

    /// <summary>runc's default allow list, as DeviceCgroupRules appends it in Berth.Runtime.</summary>
    static readonly LinuxDeviceCgroup[] RuncDefaults =
    [
        Rule(true, "c", null, null, "m"), Rule(true, "b", null, null, "m"),
        Rule(true, "c", 1, 3), Rule(true, "c", 1, 8), Rule(true, "c", 1, 7), Rule(true, "c", 5, 0), Rule(true, "c", 1, 5),
        Rule(true, "c", 1, 9), Rule(true, "c", 5, 1), Rule(true, "c", 136, null), Rule(true, "c", 5, 2), Rule(true, "c", 10, 200),
    ];

    /// <summary>Runs the program on one struct bpf_cgroup_dev_ctx; checks each jump stays forward and in range.</summary>
    static bool Allows(IReadOnlyList<BpfInstruction> program, int type, int access, uint major, uint minor)
    {
        uint[] ctx = [(uint)(type | access << 16), major, minor];
        var r = new ulong[11];
        for (int pc = 0; pc < program.Count; pc++)
        {
            var i = program[pc];
            Assert.True(i.Offset >= 0, $"backward jump at {pc}");
            switch (i.Opcode)
            {
                case BpfInstruction.LdxMemW: Assert.Equal(1, i.Src); r[i.Dst] = ctx[i.Offset / 4]; break;
                case BpfInstruction.And32K: r[i.Dst] = (uint)r[i.Dst] & (uint)i.Immediate; break;
                case BpfInstruction.Rsh32K: r[i.Dst] = (uint)r[i.Dst] >> i.Immediate; break;
                case BpfInstruction.Mov32K: r[i.Dst] = (uint)i.Immediate; break;
                case BpfInstruction.Ja: pc += i.Offset; break;
                case BpfInstruction.JsetK: if ((r[i.Dst] & (ulong)(long)i.Immediate) != 0) pc += i.Offset; break;
                case BpfInstruction.Jne32K: if ((uint)r[i.Dst] != (uint)i.Immediate) pc += i.Offset; break;
                case BpfInstruction.Exit: return r[0] switch { 1 => true, 0 => false, var v => throw new Xunit.Sdk.XunitException($"returned {v}") };
                default: throw new Xunit.Sdk.XunitException($"unknown opcode {i}");
            }
        }
        throw new Xunit.Sdk.XunitException("ran off the end of the program");
    }

    [Fact]
    public void GoldenProgramForOneRule()
    {
        var program = DeviceFilter.Compile([Rule(true, "c", 1, 3, "rw")]);

        Assert.Equal(
            """
            ldxw r2, [r1+0]
            and32 r2, 0xffff
            ldxw r3, [r1+0]
            rsh32 r3, 16
            ldxw r4, [r1+4]
            ldxw r5, [r1+8]
            jset r3, 1, +1
            ja +2
            mov32 r0, 0
            exit
            jset r3, 2, +1
            ja +6
            jne32 r2, 2, +3
            jne32 r4, 1, +2
            jne32 r5, 3, +1
            ja +2
            mov32 r0, 0
            exit
            jset r3, 4, +1
            ja +6
            jne32 r2, 2, +3
            jne32 r4, 1, +2
            jne32 r5, 3, +1
            ja +2
            mov32 r0, 0
            exit
            mov32 r0, 1
            exit
            """.ReplaceLineEndings("\n"),
            string.Join('\n', program));
    }

    [Fact]
    public void GoldenProgramForAllowAllThenDeny_UnconditionalRulesEndTheirSection()
    {
        var program = DeviceFilter.Compile([Rule(true), Rule(false, "c", 1, 3, "w")]);

        Assert.Equal(
            """
            ldxw r2, [r1+0]
            and32 r2, 0xffff
            ldxw r3, [r1+0]
            rsh32 r3, 16
            ldxw r4, [r1+4]
            ldxw r5, [r1+8]
            jset r3, 1, +1
            ja +0
            jset r3, 2, +1
            ja +0
            jset r3, 4, +1
            ja +5
            jne32 r2, 2, +4
            jne32 r4, 1, +3
            jne32 r5, 3, +2
            mov32 r0, 0
            exit
            mov32 r0, 1
            exit
            """.ReplaceLineEndings("\n"),
            string.Join('\n', program));
    }

    [Fact]
    public void EncodingIsStructBpfInsn()
    {
        // jne32 r4, 136, +2: opcode 0x56, dst 4 / src 0, off 2, imm 136 (little-endian).
        Assert.Equal(0x0000_0088_0002_0456UL, new BpfInstruction(BpfInstruction.Jne32K, 4, 0, 2, 136).Encode());
        Assert.Equal(0x0000_0008_0008_1561UL, new BpfInstruction(BpfInstruction.LdxMemW, 5, 1, 8, 8).Encode());
        Assert.Equal(0xffff_ffff_0000_00b4UL, new BpfInstruction(BpfInstruction.Mov32K, 0, 0, 0, -1).Encode());
    }

    [Fact]
    public void RuncDefaults_AllowTheStandardDevicesAndNothingElse()
    {
        var p = DeviceFilter.Compile(RuncDefaults);

        Assert.True(Allows(p, Char, Read | Write, 1, 3));     // /dev/null rw
        Assert.True(Allows(p, Char, Read, 136, 7));           // a pty
        Assert.True(Allows(p, Char, Mknod, 8, 0));            // mknod of any char device
        Assert.True(Allows(p, Block, Mknod, 8, 0));           // and of any block device
        Assert.False(Allows(p, Block, Read, 8, 0));           // but not opening a disk
        Assert.False(Allows(p, Char, Read, 1, 1));            // /dev/mem
        Assert.False(Allows(p, Char, Read | Mknod, 1, 1));
        Assert.False(Allows(p, Block, Read, 1, 3));           // the type matters
    }

    [Fact]
    public void NoRules_DenyEverything()
    {
        var p = DeviceFilter.Compile(null);
        Assert.False(Allows(p, Char, Read, 1, 3));
        Assert.False(Allows(p, Block, Mknod, 8, 0));
    }

    [Fact]
    public void TheLastMatchingRuleWins_PerRequestedAccess()
    {
        // allow r, allow w (separately), then take w away again: v1 ends with read only.
        var p = DeviceFilter.Compile([Rule(true, "c", 1, 5, "r"), Rule(true, "c", 1, 5, "w")]);
        Assert.True(Allows(p, Char, Read | Write, 1, 5));

        p = DeviceFilter.Compile([Rule(true, "c", 1, 5, "rw"), Rule(false, "c", 1, 5, "w")]);
        Assert.True(Allows(p, Char, Read, 1, 5));
        Assert.False(Allows(p, Char, Write, 1, 5));
        Assert.False(Allows(p, Char, Read | Write, 1, 5));

        // deny-all in the middle resets what came before; a later allow opens again.
        p = DeviceFilter.Compile([Rule(true), Rule(false, "c", 1, 3), Rule(false), Rule(true, "c", null, 3, "r")]);
        Assert.True(Allows(p, Char, Read, 7, 3));
        Assert.False(Allows(p, Char, Write, 7, 3));
        Assert.False(Allows(p, Char, Read, 1, 4));

        // allow everything, deny one device's write: the rest stays open.
        p = DeviceFilter.Compile([Rule(true), Rule(false, "c", 1, 3, "w")]);
        Assert.True(Allows(p, Block, Read | Write, 8, 0));
        Assert.True(Allows(p, Char, Read, 1, 3));
        Assert.False(Allows(p, Char, Write, 1, 3));
    }

    [Fact]
    public void LargeDeviceNumbersCompareAsUnsigned32()
    {
        var p = DeviceFilter.Compile([Rule(true, "c", 4095, 1048575, "r")]);
        Assert.True(Allows(p, Char, Read, 4095, 1048575));
        Assert.False(Allows(p, Char, Read, 4095, 1048574));
        var e = Assert.Throws<CgroupException>(() => DeviceFilter.Compile([Rule(true, "c", 1L << 33, 0)]));
        Assert.Contains("linux.resources.devices[0]", e.Message);
    }

    [Fact]
    public void BadRulesAreRefusedNamingTheField()
    {
        var e = Assert.Throws<CgroupException>(() => DeviceFilter.Compile([Rule(true), Rule(true, "x", 1, 1)]));
        Assert.Contains("linux.resources.devices[1].type \"x\"", e.Message);
    }

    [Fact]
    public void PureV2Manager_AttachesTheCompiledRulesToTheContainersDirectory_AfterTheOtherWrites()
    {
        using var tree = new TempCgroupTree();
        string dir = tree["unified/c1"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "pids.max"), "");
        var attacher = new RecordingDeviceFilter();
        var m = CgroupManager.Load(new Dictionary<string, string> { [CgroupManager.V2Key] = dir }, fs: tree.Fs, deviceFilter: attacher);
        LinuxDeviceCgroup[] rules = [Rule(true, "c", 1, 3, "rw"), .. RuncDefaults];

        m.Apply(new LinuxResources { Devices = [.. rules], Pids = new LinuxPids { Limit = 7 } });

        var (target, program) = Assert.Single(attacher.Calls);
        Assert.Equal(dir, target);
        Assert.Equal(DeviceFilter.Compile(rules), program);
        Assert.Equal("7", File.ReadAllText(Path.Combine(dir, "pids.max")));
    }

    [Fact]
    public void PureV2Manager_RefusesABadRuleBeforeAnyWrite()
    {
        using var tree = new TempCgroupTree();
        string dir = tree["unified/c1"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "pids.max"), "max");
        var attacher = new RecordingDeviceFilter();
        var m = CgroupManager.Load(new Dictionary<string, string> { [CgroupManager.V2Key] = dir }, fs: tree.Fs, deviceFilter: attacher);

        var e = Assert.Throws<CgroupException>(() => m.Apply(new LinuxResources { Devices = [Rule(true, "c", 1, 3, "rwx")], Pids = new LinuxPids { Limit = 7 } }));

        Assert.Contains("linux.resources.devices[0].access", e.Message);
        Assert.Empty(attacher.Calls);
        Assert.Equal("max", File.ReadAllText(Path.Combine(dir, "pids.max")));
    }

    [Fact]
    public void HybridManager_UsesTheV1DevicesControllerAndAttachesNoFilter()
    {
        using var tree = new TempCgroupTree();
        var attacher = new RecordingDeviceFilter();
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs, attacher);
        m.Create();
        foreach (string file in (string[])["devices.allow", "devices.deny"])
            File.WriteAllText(Path.Combine(m.Paths["devices"], file), "");

        m.Apply(new LinuxResources { Devices = [Rule(true, "c", 1, 3, "rw")] });

        Assert.Equal(CgroupMode.Hybrid, m.Mode);
        Assert.Empty(attacher.Calls);
        Assert.Equal("c 1:3 rw", File.ReadAllText(Path.Combine(m.Paths["devices"], "devices.allow")));
    }
}

/// <summary>Records what the manager would attach, for tests that run on a temp-dir cgroupfs (no bpf(2) there).</summary>
sealed class RecordingDeviceFilter : IDeviceFilterAttacher
{
    public List<(string Dir, IReadOnlyList<BpfInstruction> Program)> Calls { get; } = [];
    public void Attach(string cgroupDir, IReadOnlyList<BpfInstruction> program) => Calls.Add((cgroupDir, program));
}
