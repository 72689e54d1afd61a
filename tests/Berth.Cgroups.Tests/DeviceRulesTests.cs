using Berth.Oci;

namespace Berth.Cgroups.Tests;

public class DeviceRulesTests
{
    static LinuxDeviceCgroup Rule(bool allow, string? type = null, long? major = null, long? minor = null, string? access = null) =>
        new() { Allow = allow, Type = type, Major = major, Minor = minor, Access = access };

    static string[] Lines(params LinuxDeviceCgroup[] rules) =>
        DeviceRules.V1Writes(rules).Select(w => $"{w.File}: {w.Value}").ToArray();

    [Fact]
    public void StartsWithDenyAllThenWritesEachRuleInOrder()
    {
        Assert.Equal(
            ["devices.deny: a", "devices.deny: a", "devices.allow: c 1:3 rwm", "devices.allow: c 136:* rw", "devices.allow: b *:* m",
             "devices.deny: c 5:1 w"],
            Lines(Rule(false, access: "rwm"), Rule(true, "c", 1, 3, "rwm"), Rule(true, "c", 136, null, "wr"),
                Rule(true, "b", access: "m"), Rule(false, "c", 5, 1, "w")));
    }

    [Fact]
    public void NullListStillDeniesEverything()
    {
        var only = Assert.Single(DeviceRules.V1Writes(null));
        Assert.Equal(new DeviceWrite("devices.deny", "a"), only);
    }

    [Fact]
    public void MinusOneIsAWildcardAndAccessDefaultsToRwm() =>
        Assert.Equal(["devices.deny: a", "devices.allow: c *:5 rwm"], Lines(Rule(true, "c", -1, 5)));

    [Fact]
    public void NarrowTypeAIsSplitIntoCharAndBlockSinceTheKernelReadsAAsEverything()
    {
        Assert.Equal(["devices.deny: a", "devices.allow: c 1:* r", "devices.allow: b 1:* r"], Lines(Rule(true, "a", 1, null, "r")));
        Assert.Equal(["devices.deny: a", "devices.allow: c *:* m", "devices.allow: b *:* m"], Lines(Rule(true, null, access: "m")));
        Assert.Equal(["devices.deny: a", "devices.allow: a"], Lines(Rule(true, "a", access: "mwr")));
    }

    [Theory]
    [InlineData("p", null, "rwm", ".type \"p\"")]
    [InlineData("c", null, "rwx", ".access \"rwx\"")]
    [InlineData("c", -2L, "r", ".major -2")]
    public void BadRulesAreRefusedNamingTheField(string type, long? major, string access, string expected)
    {
        var e = Assert.Throws<CgroupException>(() => DeviceRules.V1Writes([Rule(true), Rule(true, type, major, 1, access)]));
        Assert.Contains("linux.resources.devices[1]" + expected, e.Message);
    }
}
