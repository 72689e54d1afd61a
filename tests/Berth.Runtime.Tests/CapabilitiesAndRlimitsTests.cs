using Berth.Runtime.Configs;

namespace Berth.Runtime.Tests;

public class CapabilitiesAndRlimitsTests
{
    [Theory]
    [InlineData("CAP_CHOWN", 0)]
    [InlineData("CAP_KILL", 5)]
    [InlineData("CAP_NET_BIND_SERVICE", 10)]
    [InlineData("CAP_SYS_ADMIN", 21)]
    [InlineData("CAP_MKNOD", 27)]
    [InlineData("CAP_AUDIT_WRITE", 29)]
    [InlineData("CAP_SYSLOG", 34)]
    [InlineData("CAP_AUDIT_READ", 37)]
    [InlineData("CAP_BPF", 39)]
    [InlineData("CAP_CHECKPOINT_RESTORE", 40)]
    public void CapabilityNumbers(string name, int number)
    {
        Assert.True(Capabilities.TryParse(name, out var cap));
        Assert.Equal(number, cap);
        Assert.Equal(name, Capabilities.NameOf(number));
    }

    [Fact]
    public void FortyOneCapabilities()
    {
        Assert.Equal(40, Capabilities.Last);
        Assert.Equal((1UL << 41) - 1, Capabilities.ToMask(Enumerable.Range(0, 41).Select(Capabilities.NameOf)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Capabilities.NameOf(41));
    }

    [Fact]
    public void MaskOfRuncDefaults() =>
        // CAP_KILL(5) | CAP_NET_BIND_SERVICE(10) | CAP_AUDIT_WRITE(29), as /proc/PID/status shows 0x20000420.
        Assert.Equal(0x20000420UL, Capabilities.ToMask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]));

    [Fact]
    public void NamesAreCaseInsensitiveButNeedPrefix()
    {
        Assert.Equal(1UL << 21, Capabilities.ToMask(["cap_sys_admin"]));
        Assert.False(Capabilities.TryParse("SYS_ADMIN", out _));
        var e = Assert.Throws<ArgumentException>(() => Capabilities.ToMask(["CAP_CHOWN", "CAP_TELEPORT"]));
        Assert.Contains("CAP_TELEPORT", e.Message);
    }

    [Fact]
    public void NamesOfMaskRoundTrips() =>
        Assert.Equal(["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"], Capabilities.NamesOf(0x20000420UL));

    [Theory]
    [InlineData("RLIMIT_CPU", 0)]
    [InlineData("RLIMIT_FSIZE", 1)]
    [InlineData("RLIMIT_DATA", 2)]
    [InlineData("RLIMIT_STACK", 3)]
    [InlineData("RLIMIT_CORE", 4)]
    [InlineData("RLIMIT_RSS", 5)]
    [InlineData("RLIMIT_NPROC", 6)]
    [InlineData("RLIMIT_NOFILE", 7)]
    [InlineData("RLIMIT_MEMLOCK", 8)]
    [InlineData("RLIMIT_AS", 9)]
    [InlineData("RLIMIT_LOCKS", 10)]
    [InlineData("RLIMIT_SIGPENDING", 11)]
    [InlineData("RLIMIT_MSGQUEUE", 12)]
    [InlineData("RLIMIT_NICE", 13)]
    [InlineData("RLIMIT_RTPRIO", 14)]
    [InlineData("RLIMIT_RTTIME", 15)]
    public void RlimitNumbers(string name, int resource)
    {
        Assert.Equal(resource, Rlimits.ResourceOf(name));
        Assert.Equal(name, Rlimits.NameOf(resource));
    }

    [Fact]
    public void UnknownRlimitIsNamed()
    {
        Assert.Equal(16, Rlimits.Count);
        var e = Assert.Throws<ArgumentException>(() => Rlimits.ResourceOf("RLIMIT_nofile"));
        Assert.Contains("RLIMIT_nofile", e.Message);
    }
}
