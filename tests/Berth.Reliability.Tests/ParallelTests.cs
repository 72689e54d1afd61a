using System.Diagnostics;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Berth.Reliability.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests;

/// <summary>
/// Many commands at once: 100 creates of distinct ids (each must succeed, and the state root must hold exactly
/// those containers, each with its own init), and create, start, kill, state and delete racing on one id (exactly
/// one create wins, every loser says why in a sentence, and state and list agree afterwards).
/// </summary>
[Trait("runc-compatible", "false")] // runc 1.1.5 takes no lock around create (see the integration suite's ConcurrencyTests)
public sealed class ParallelTests(ITestOutputHelper output) : ContainerTest(output)
{
    const int ParallelCreates = 100;
    const int Rounds = 20;
    // Generous: 100 runtimes and their inits share two cores with whatever else runs.
    static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    RuntimeRunner Quiet => new(StateRoot, Path.Combine(WorkDirectory, "io"), SilentOutput.Instance);

    [SkippableFact]
    public async Task AHundredParallelCreates_AllSucceed_AndAllGo()
    {
        Leaks.IncludeDerivedIds = true;
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var ids = Enumerable.Range(1, ParallelCreates).Select(n => $"{Id}-{n}").ToList();
        var runtime = Quiet;
        try
        {
            var clock = Stopwatch.StartNew();
            var creates = await Task.WhenAll(ids.Select(id => runtime.RunAsync(["create", "--bundle", Bundle.Path, id], timeout: Bound)));
            Output.WriteLine($"{ParallelCreates} parallel creates took {clock.Elapsed.TotalSeconds:F1} s");
            var failed = creates.Where(r => !r.Succeeded).ToList();
            Assert.True(failed.Count == 0, $"{failed.Count} of {ParallelCreates} creates failed:\n" + string.Join("\n", failed.Take(5)));

            var list = runtime.Run("list", "--format", "json");
            Assert.True(list.Succeeded, list.ToString());
            var states = JsonNode.Parse(list.Stdout)!.AsArray().Select(s => s!.AsObject()).ToList();
            Assert.Equal(ids.Order(StringComparer.Ordinal), states.Select(s => (string)s["id"]!).Order(StringComparer.Ordinal));
            Assert.All(states, s => Assert.Equal("created", (string)s["status"]!));
            var pids = states.Select(s => (int)s["pid"]!).ToList();
            Assert.All(pids, pid => Assert.True(pid > 0));
            Assert.Equal(pids.Count, pids.Distinct().Count());

            clock.Restart();
            var starts = await Task.WhenAll(ids.Select(id => runtime.RunAsync(["start", id], timeout: Bound)));
            Assert.All(starts, r => Assert.True(r.Succeeded, r.ToString()));
            var deletes = await Task.WhenAll(ids.Select(id => runtime.RunAsync(["delete", "--force", id], timeout: Bound)));
            Output.WriteLine($"{ParallelCreates} parallel starts, then deletes, took {clock.Elapsed.TotalSeconds:F1} s");
            Assert.All(deletes, r => Assert.True(r.Succeeded, r.ToString()));
            Assert.Equal("", runtime.Run("list", "-q").Stdout.Trim());
            Leaks.AssertClean(TimeSpan.FromSeconds(20));
        }
        finally
        {
            await Task.WhenAll(ids.Select(id => runtime.RunAsync(["delete", "--force", id], timeout: Bound)));
        }
    }

    [SkippableFact]
    public async Task CommandsRacingOnOneId_OneCreateWins_AndEveryLoserSaysWhy()
    {
        Leaks.IncludeDerivedIds = true;
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var runtime = Quiet;
        var random = new Random(Settings.Seed ?? Environment.TickCount);
        var outcomes = new Dictionary<string, int>();
        for (int round = 1; round <= Rounds; round++)
        {
            string id = $"{Id}-{round}";
            try
            {
                // Three creates against starts, kills and states, each after a random few milliseconds.
                string[][] first =
                [
                    ["create", "--bundle", Bundle.Path, id], ["create", "--bundle", Bundle.Path, id], ["create", "--bundle", Bundle.Path, id],
                    ["start", id], ["start", id], ["kill", id, "KILL"], ["state", id],
                ];
                var results = await Race(runtime, random, first);
                Assert.Equal(1, results.Count(r => r.Arguments.Contains("create") && r.Succeeded));
                Assert.True(results.Count(r => r.Arguments.Contains("start") && r.Succeeded) <= 1, "two starts succeeded");
                var status = StateAndList.Agree(runtime, id, Bound);
                Assert.NotNull(status);

                // Then deletes, plain and forced, against a start, a kill and a state.
                string[][] second = [["delete", id], ["delete", "--force", id], ["delete", "--force", id], ["start", id], ["kill", id, "KILL"], ["state", id]];
                var deletes = await Race(runtime, random, second);
                // As runc's, `delete --force` of a container that is gone (deleted by the other one) succeeds.
                Assert.All(deletes.Where(r => r.Arguments.Contains("--force")), r => Assert.True(r.Succeeded, r.ToString()));
                results.AddRange(deletes);
                Assert.Null(StateAndList.Agree(runtime, id, Bound));

                foreach (var r in results)
                {
                    string key = $"{r.Arguments[2]}: {(r.Succeeded ? "ok" : FirstLine(r.Stderr).Replace(id, "ID"))}";
                    outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
                }
            }
            finally
            {
                runtime.Run("delete", "--force", id);
            }
        }
        foreach (var (outcome, count) in outcomes.OrderBy(o => o.Key, StringComparer.Ordinal))
            Output.WriteLine($"{count,4} x {outcome}");
        Leaks.AssertClean(TimeSpan.FromSeconds(10));
    }

    static async Task<List<RuntimeResult>> Race(RuntimeRunner runtime, Random random, string[][] commands)
    {
        var delays = commands.Select(_ => random.Next(15)).ToList();
        var results = (await Task.WhenAll(commands.Select(async (c, i) =>
        {
            await Task.Delay(delays[i]);
            return await runtime.RunAsync(c, timeout: Bound);
        }))).ToList();
        foreach (var r in results)
        {
            Assert.False(r.TimedOut, "a racing command hung: " + r);
            ErrorLines.AssertClear(r);
            if (!r.Succeeded)
                Assert.True(r.Stderr.Trim().Length > 0 && !r.Stderr.Trim().Contains('\n'), "a losing command did not say why in one line: " + r);
        }
        return results;
    }

    static string FirstLine(string text) => text.Trim().Split('\n')[0];
}
