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

    /// <summary>Whether <paramref name="pid"/> has a handler for SIGTERM (bit 14 of SigCgt in /proc/PID/status).</summary>
    private static bool CatchesTerm(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigCgt:", StringComparison.Ordinal));
            return (Convert.ToUInt64(line["SigCgt:".Length..].Trim(), 16) & (1UL << 14)) != 0;
        }
        catch (IOException)
        {
            return false;
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
        // A TERM that reached the shell before its trap was set would be ignored by PID 1 (a CI run on a loaded
        // machine met that): wait for the handler.
        int pid = Pid();
        Eventually(() => Cmdline(pid).StartsWith("sh ", StringComparison.Ordinal) && CatchesTerm(pid), $"the container's shell ({pid}) to trap SIGTERM");

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

    /// <summary>Signal 0 checks that the container's init exists, as kill(2) does; runc 1.1.5 accepts it.</summary>
    [SkippableFact]
    public void SignalZero_ChecksThatTheContainerRuns_WithoutSignallingIt()
    {
        Bundle.WriteConfig(Specs.Shell(LongRunning));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);

        var zero = Runtime.Run("kill", Id, "0");
        var allZero = Runtime.Run("kill", "--all", Id, "0");

        Assert.True(zero.Succeeded, "kill ID 0 of a running container failed: " + zero);
        Assert.True(allZero.Succeeded, "kill --all ID 0 of a running container failed: " + allZero);
        Assert.Equal("running", Status());

        Assert.True(Runtime.Run("kill", Id, "KILL").Succeeded);
        WaitForStatus("stopped");
        var stopped = Runtime.Run("kill", Id, "0");
        Assert.False(stopped.Succeeded, "kill ID 0 of a stopped container succeeded: " + stopped);
        // As runc: --all of a stopped container has nothing to signal, and that is no error.
        Assert.True(Runtime.Run("kill", "--all", Id, "0").Succeeded);
    }
}
