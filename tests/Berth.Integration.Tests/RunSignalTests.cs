using System.Diagnostics;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>Signals to a foreground `run`, whenever they come.</summary>
public sealed class RunSignalTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>
    /// A SIGTERM that reaches `run` before it waits for the container (here: during a poststart hook, when the
    /// container already runs) used to end the runtime at once, leaving a running container that nobody waits for or
    /// deletes. It now reaches the container, as with runc, whose signal handler is in place before its create.
    /// </summary>
    [SkippableFact]
    public void ASigtermBeforeRunWaits_ReachesTheContainer()
    {
        var spec = Specs.Shell("trap 'echo got-term; exit 3' TERM; echo started; sleep 1000 & wait");
        spec["hooks"] = new JsonObject
        {
            ["poststart"] = new JsonArray(new JsonObject { ["path"] = "/bin/sleep", ["args"] = Specs.Strings("sleep", "2") }),
        };
        Bundle.WriteConfig(spec);
        string stdout = Path.Combine(WorkDirectory, "run.out");
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "exec \"$@\" </dev/null >\"$0\" 2>&1", stdout, RuntimeBinary.Path, "--root", StateRoot, "run", "--bundle", Bundle.Path, Id })
            start.ArgumentList.Add(a);
        using var run = Process.Start(start)!;

        // The hook runs for 2 s after the container started: the signal comes while `start` waits for it.
        Eventually(() => File.Exists(stdout) && File.ReadAllText(stdout).Contains("started"), "the container to start");
        Thread.Sleep(300);
        Assert.False(run.HasExited, "run ended before the signal was sent: " + File.ReadAllText(stdout));
        Process.Start("kill", ["-TERM", run.Id.ToString()])!.WaitForExit();

        Assert.True(run.WaitForExit(TimeSpan.FromSeconds(30)), "run did not end after the container got SIGTERM");
        string text = File.ReadAllText(stdout);
        Assert.True(run.ExitCode == 3, $"run exited {run.ExitCode}, expected the container's 3: {text}");
        Assert.Contains("got-term", text);
        Assert.False(Runtime.Run("state", Id).Succeeded, "run left its container behind");
    }
}
