namespace Berth.Runtime.Tests;

public class ContainerIdTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("mycontainer")]
    [InlineData("4f2a9c0e1b7d")]
    [InlineData("web_1.prod-eu+blue")]
    [InlineData("a,b")]     // runc's [\w+-\.] holds the range '+'..'.', so ',' is allowed
    [InlineData("...")]
    [InlineData(".hidden")]
    public void ValidIds(string id)
    {
        Assert.True(ContainerId.IsValid(id));
        ContainerId.Validate(id);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("/abs")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a b")]
    [InlineData("a:b")]
    [InlineData("é")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    public void InvalidIdsAreNamed(string id)
    {
        Assert.False(ContainerId.IsValid(id));
        var e = Assert.Throws<ArgumentException>(() => ContainerId.Validate(id));
        Assert.Contains($"\"{id}\"", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public void EmptyIdIsRefused(string? id)
    {
        var e = Assert.Throws<ArgumentException>(() => ContainerId.Validate(id));
        Assert.Contains("empty", e.Message);
    }
}
