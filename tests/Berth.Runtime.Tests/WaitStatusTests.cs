namespace Berth.Runtime.Tests;

public class WaitStatusTests
{
    [Theory]
    [InlineData(0x0000, 0)]
    [InlineData(0x0300, 3)]
    [InlineData(0x0009, 137)] // SIGKILL
    [InlineData(0x000f, 143)] // SIGTERM
    public void ExitCodesAreThoseOfAShell(int status, int expected) => Assert.Equal(expected, WaitStatus.ToExitCode(status));
}
