namespace Berth.Runtime.Tests;

public class SignalsTests
{
    [Theory]
    [InlineData("KILL", 9)]
    [InlineData("SIGKILL", 9)]
    [InlineData("sigterm", 15)]
    [InlineData("9", 9)]
    [InlineData("USR1", 10)]
    [InlineData("SIGRTMIN+2", 36)]
    [InlineData("RTMAX-1", 63)]
    [InlineData("64", 64)]
    [InlineData("0", 0)] // kill(2)'s existence check, which `kill ID 0` passes on as runc does
    public void ParsesNamesAndNumbers(string text, int expected) => Assert.Equal(expected, Signals.Parse(text));

    [Theory]
    [InlineData("NOPE")]
    [InlineData("-1")]
    [InlineData("SIG0")]
    [InlineData("65")]
    [InlineData("32")]
    [InlineData("")]
    public void RejectsUnknownSignalsNamingThem(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => Signals.Parse(text));
        Assert.Contains(text, e.Message);
    }
}
