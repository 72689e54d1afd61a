namespace Berth.Runtime.Tests;

public class HomeDirectoryTests
{
    const string Passwd = "root:x:0:0:root:/root:/bin/sh\n# a comment\nbad line\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\r\nnohome:x:7:7:::\n";

    [Theory]
    [InlineData(0u, "/root")]
    [InlineData(1000u, "/home/alice")]
    [InlineData(7u, null)]
    [InlineData(5u, null)]
    public void FromPasswd_FindsTheUidsHomeField(uint uid, string? home) => Assert.Equal(home, HomeDirectory.FromPasswd(Passwd, uid));

    [Fact]
    public void Ensure_AddsHome_OnlyWhenMissing()
    {
        bool read = false;
        Assert.Equal(["PATH=/bin", "HOME=/x"], HomeDirectory.Ensure(["PATH=/bin", "HOME=/x"], 0, () => { read = true; return Passwd; }));
        Assert.False(read, "the passwd file was read although HOME was given");
        Assert.Equal(["PATH=/bin", "HOME=/home/alice"], HomeDirectory.Ensure(["PATH=/bin"], 1000, () => Passwd));
        Assert.Equal(["HOME=/"], HomeDirectory.Ensure([], 1000, () => null));
        Assert.Equal(["HOMEDIR=/y", "HOME=/"], HomeDirectory.Ensure(["HOMEDIR=/y"], 5, () => Passwd));
    }
}
