using Berth.Snapshots;

namespace Berth.Snapshots.Tests;

public class LayerPathTests
{
    [Theory]
    [InlineData("etc/passwd", "etc/passwd")]
    [InlineData("./etc/passwd", "etc/passwd")]
    [InlineData("etc//x/./y/", "etc/x/y")]
    [InlineData("a/b/../c", "a/c")]
    [InlineData("a/../../", null)]
    [InlineData("/etc/passwd", "etc/passwd")]
    [InlineData("/../../etc/passwd", "etc/passwd")]
    [InlineData("./", "")]
    [InlineData("/", "")]
    [InlineData(".wh..wh..opq", ".wh..wh..opq")]
    public void Clean_confines_absolute_names_and_normalises(string name, string? expected)
    {
        if (expected is null)
        {
            var e = Assert.Throws<InvalidLayerException>(() => LayerPath.Clean(name));
            Assert.Contains($"\"{name}\"", e.Message);
            return;
        }
        Assert.Equal(expected, LayerPath.Join(LayerPath.Clean(name)));
    }

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("a/../../etc/passwd")]
    [InlineData("./../x")]
    [InlineData("..")]
    public void Clean_rejects_relative_breakouts_naming_the_entry(string name)
    {
        var e = Assert.Throws<InvalidLayerException>(() => LayerPath.Clean(name, "hardlink target"));
        Assert.Contains("hardlink target", e.Message);
        Assert.Contains(name, e.Message);
        Assert.Contains("outside the snapshot", e.Message);
    }

    [Fact]
    public void Clean_rejects_nul_bytes()
    {
        Assert.Throws<InvalidLayerException>(() => LayerPath.Clean("a\0b"));
    }
}
