using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>What the docker CLI scenarios share: bounded polls, the runc half of a driver theory, outcomes to compare with dockerd.</summary>
public static partial class Scenarios
{
    /// <summary>Reads until <paramref name="done"/> holds, every 100 ms for at most <paramref name="seconds"/>; the last value. Fails naming <paramref name="what"/>.</summary>
    public static string PollUntil(Func<string> read, Func<string, bool> done, int seconds, string what)
    {
        var clock = Stopwatch.StartNew();
        string last = read();
        while (!done(last))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"{what} within {seconds} s; last: {last}");
            Thread.Sleep(100);
            last = read();
        }
        return last;
    }

    public static void SkipWithoutRunc(string runtime) =>
        Skip.If(runtime == "runc" && Tools.Which("runc") is null, "runc is not installed: the runc driver's half of this theory cannot run");

    [GeneratedRegex("[0-9a-f]{64}|[0-9a-f]{12}")]
    private static partial Regex Ids();

    /// <summary>A docker command's exit code, stderr and stdout with container ids as &lt;id&gt;: what berthd and dockerd must agree on.</summary>
    public static string Outcome(ProcessResult r) => $"exit {r.ExitCode}: {Ids().Replace(r.Stderr.Trim(), "<id>")} | {Ids().Replace(r.Stdout.Trim(), "<id>")}";
}

/// <summary>A test class of docker CLI scenarios against the shared <see cref="ContainerDaemon"/>.</summary>
public abstract class DockerScenarioTests(ContainerDaemon fixture) : IClassFixture<ContainerDaemon>
{
    protected DaemonInstance Daemon => fixture.Daemon;

    protected ProcessResult Docker(params string[] args) => DockerCli.Docker(Daemon, args);

    protected static ProcessResult Ok(ProcessResult result) => DockerCli.Ok(result);

    /// <summary>docker inspect --format's output, trimmed.</summary>
    protected string Format(string format, string name) => Ok(Docker("inspect", "--format", format, name)).Stdout.Trim();
}
