namespace Berth.Runtime.Tests;

public class ByteSizeTests
{
    [Theory]
    [InlineData("-1", -1L)]
    [InlineData("1048576", 1048576L)]
    [InlineData("512k", 524288L)]
    [InlineData("64m", 67108864L)]
    [InlineData("64MB", 67108864L)]
    [InlineData("1GiB", 1073741824L)]
    [InlineData("1.5g", 1610612736L)]
    [InlineData("100b", 100L)]
    public void SizesAreBinaryUnits(string text, long bytes) => Assert.Equal(bytes, ByteSize.Parse(text, "--memory"));

    [Theory]
    [InlineData("lots")]
    [InlineData("")]
    [InlineData("12q")]
    [InlineData("-5")]
    public void NonSizesNameTheFlagAndValue(string text)
    {
        var e = Assert.Throws<ContainerException>(() => ByteSize.Parse(text, "--memory-swap"));
        Assert.StartsWith($"--memory-swap \"{text}\": not a size", e.Message);
    }
}
