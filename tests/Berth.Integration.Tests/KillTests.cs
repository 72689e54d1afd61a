using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class KillTests(ITestOutputHelper output) : ContainerTest(output)
{
    // A long-running PID 1 that also honours SIGTERM (PID 1 ignores signals it has no handler for).
    private const string LongRunning = "trap 'exit 0' TERM; while :; do sleep 0.1; done";

    private static string Cmdline(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static List<int> HostPidsWithCmdline(string cmdline) =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => name!.All(char.IsAsciiDigit))
            .Select(name => int.Parse(name!))
            .Where(pid => Cmdline(pid) == cmdline)
            .ToList();

    [SkippableTheory]
    [InlineData("KILL")]
    [InlineData("9")]
    [InlineData("SIGKILL")]
    [InlineData("TERM")]
    [InlineData("15")]
    public void Kill_AcceptsSignalNamesAndNumbers(string signal)
    {
        Bundle.WriteConfig(Specs.Shell(LongRunning));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        Assert.Equal("running", Status());

        var kill = Runtime.Run("kill", Id, signal);

        Assert.True(kill.Succeeded, "kill failed: " + kill);
        WaitForStatus("stopped");
    }

    [SkippableFact]
    public void KillAll_SignalsEveryProcessOfTheContainer()
    {
        // No PID namespace, so killing init alone would leave the children behind.
        var seconds = Random.Shared.Next(100000, 999999).ToString();
        var spec = Specs.Shell($"sleep {seconds} & sleep {seconds} & wait").WithoutNamespace("pid");
        Bundle.WriteConfig(spec);
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        var children = $"sleep {seconds}";
        Eventually(() => HostPidsWithCmdline(children).Count == 2, "both children to start");

        var kill = Runtime.Run("kill", "--all", Id, "KILL");

        Assert.True(kill.Succeeded, "kill --all failed: " + kill);
        WaitForStatus("stopped");
        Eventually(() => HostPidsWithCmdline(children).Count == 0, "every child to die");
    }
}
