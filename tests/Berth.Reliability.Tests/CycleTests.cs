using System.Diagnostics;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Berth.Reliability.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests;

/// <summary>
/// Create/start/delete, over and over (BERTH_RELIABILITY_CYCLES times, 1000 by default, the hardening issue's count),
/// with the books checked after every 100: no mount, no cgroup in any hierarchy, no state entry, no
/// process and no session keyring may be left of the containers deleted so far, and the fds of two runtime processes
/// that live through the whole run (a foreground `run` and an `events` stream) must not grow.
/// Odd cycles end with `kill KILL`, a wait for "stopped" and a plain `delete`; even ones with `delete --force`.
/// </summary>
public sealed class CycleTests(ITestOutputHelper output) : ContainerTest(output)
{
    const int CheckEvery = 100;
    static readonly TimeSpan KeyringGrace = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public void CreateStartDeleteCycles_GrowNothing()
    {
        int cycles = Settings.Cycles;
        Leaks.IncludeDerivedIds = true;
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        // The runs are many: only failures are written to the test's output.
        var runtime = new RuntimeRunner(StateRoot, Path.Combine(WorkDirectory, "io"), SilentOutput.Instance);
        using var longRunning = new LongRunningRuntimes(Output);
        var runFds = LongRunningRuntimes.SteadyFds(longRunning.RunPid);
        var eventsFds = LongRunningRuntimes.SteadyFds(longRunning.EventsPid);
        Output.WriteLine($"before: run (pid {longRunning.RunPid}) {runFds.Count} fds: {runFds.Listing}");
        Output.WriteLine($"before: events (pid {longRunning.EventsPid}) {eventsFds.Count} fds: {eventsFds.Listing}");
        // The keyring count below is only worth something if it sees the live containers' session keyrings.
        Assert.Equal(2, Keyrings.SessionKeyrings(id => id.StartsWith(longRunning.Name + "-", StringComparison.Ordinal)).Count);

        var clock = Stopwatch.StartNew();
        var lap = Stopwatch.StartNew();
        for (int n = 1; n <= cycles; n++)
        {
            Cycle(runtime, $"{Id}-{n}", n);
            if (n % CheckEvery != 0 && n != cycles) continue;

            var lapTime = lap.Elapsed;
            var leaks = Leaks.WaitForClean(TimeSpan.FromSeconds(10));
            var keyrings = Keyrings.WaitForNone(IsCycleId, KeyringGrace);
            var run = LongRunningRuntimes.SteadyFds(longRunning.RunPid);
            var events = LongRunningRuntimes.SteadyFds(longRunning.EventsPid);
            int Count(string kind) => leaks.Count(l => l.StartsWith(kind + ": ", StringComparison.Ordinal));
            Output.WriteLine($"{n,5} cycles, {clock.Elapsed.TotalSeconds,6:F1} s ({lapTime.TotalMilliseconds / Math.Min(CheckEvery, n):F0} ms a cycle lately): " +
                $"left mounts {Count("mount")}, cgroups {Count("cgroup")}, state {Count("state")}, processes {Count("process")}, " +
                $"keyrings {keyrings.Count}; fds run {run.Count} ({run.Count - runFds.Count:+0;-0;0}), events {events.Count} ({events.Count - eventsFds.Count:+0;-0;0})");
            Assert.True(leaks.Count == 0, $"after {n} cycles, left behind:\n  " + string.Join("\n  ", leaks));
            Assert.True(keyrings.Count == 0, $"after {n} cycles, session keyrings still there {KeyringGrace.TotalSeconds} s later:\n  " + string.Join("\n  ", keyrings));
            Assert.True(run.Count <= runFds.Count, $"after {n} cycles the foreground run holds {run.Count} fds, {runFds.Count} before: {run.Listing}");
            Assert.True(events.Count <= eventsFds.Count, $"after {n} cycles events holds {events.Count} fds, {eventsFds.Count} before: {events.Listing}");
            lap.Restart();
        }
    }

    bool IsCycleId(string id) => id.StartsWith(Id + "-", StringComparison.Ordinal);

    void Cycle(RuntimeRunner runtime, string id, int n)
    {
        try
        {
            Expect(runtime.Run("create", "--bundle", Bundle.Path, id), n);
            Expect(runtime.Run("start", id), n);
            if (n % 2 == 0)
            {
                Expect(runtime.Run("delete", "--force", id), n);
                return;
            }
            Expect(runtime.Run("kill", id, "KILL"), n);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            RuntimeResult state;
            while ((string?)JsonNode.Parse(Expect(state = runtime.Run("state", id), n).Stdout)!["status"] != "stopped")
            {
                Assert.True(DateTime.UtcNow < deadline, $"cycle {n}: {id} did not stop within 20 s of SIGKILL: {state}");
                Thread.Sleep(20);
            }
            Expect(runtime.Run("delete", id), n);
        }
        catch
        {
            runtime.Run("delete", "--force", id);
            throw;
        }
    }

    static RuntimeResult Expect(RuntimeResult result, int n)
    {
        Assert.True(result.Succeeded, $"cycle {n}: {result}");
        return result;
    }
}

/// <summary>An output helper that drops what it is given (for the runs a test makes by the thousand).</summary>
public sealed class SilentOutput : ITestOutputHelper
{
    public static readonly SilentOutput Instance = new();

    public void WriteLine(string message) { }

    public void WriteLine(string format, params object[] args) { }
}
