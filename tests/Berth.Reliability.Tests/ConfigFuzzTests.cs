using System.Diagnostics;
using Berth.Reliability.Tests.Infrastructure;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests;

/// <summary>
/// Property-based fuzzing of config.json with FsCheck (<see cref="ConfigMutations"/>): each case is written to the
/// bundle and run with `run`, and must end within a bound either with exit 0 (the container ran, and `run` deleted it)
/// or with one clear line of error that names a JSON path or a file (<see cref="FuzzOracle"/>), leaving nothing behind.
/// BERTH_RELIABILITY_FUZZ_CASES sets how many cases run, BERTH_RELIABILITY_SEED replays a run (its seed is printed).
/// A case that broke the rules once is kept in <see cref="ConfigRegressionTests"/>.
/// </summary>
[Trait("runc-compatible", "false")] // runc's errors name no JSON path
public sealed class ConfigFuzzTests(ITestOutputHelper output) : ConfigCaseTest(output)
{
    [SkippableFact]
    public void RandomAndMutatedConfigs_RunOrAreRefusedClearly_AndLeaveNothing()
    {
        foreach (var (name, spec) in new[] { ("base spec", BaseSpec), ("base spec in a user namespace", ConfigMutations.WithUserNamespace(BaseSpec)) })
        {
            var sanity = RunCase(spec.ToJsonString());
            Assert.True(sanity.Result.Succeeded && sanity.Why is null, $"the unmutated {name} does not run cleanly ({sanity.Why}): {sanity.Result}");
        }

        int seed = Settings.Seed ?? Environment.TickCount & int.MaxValue;
        int cases = Settings.FuzzCases;
        Output.WriteLine($"seed {seed} (BERTH_RELIABILITY_SEED={seed} replays this run), {cases} cases");
        var failures = new List<string>();
        var outcomes = new Dictionary<string, int>();
        int n = 0;
        var clock = Stopwatch.StartNew();
        var property = Prop.ForAll(ConfigMutations.Cases(BaseSpec).ToArbitrary(), fuzz =>
        {
            n++;
            var (result, why) = RunCase(fuzz.Text);
            string outcome = FuzzOracle.Outcome(result);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            if (why is not null) failures.Add($"case {n} ({fuzz.How}): {why}\n{result}");
        });
        var replay = new Replay(new Rnd((ulong)seed), Microsoft.FSharp.Core.FSharpOption<int>.None);
        Check.One(Config.Quick.WithMaxTest(cases).WithReplay(replay).WithQuietOnSuccess(true), property);

        Output.WriteLine($"{n} cases in {clock.Elapsed.TotalSeconds:F0} s: " +
            string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Value} {o.Key}")) + $"; {failures.Count} broke the rules");
        Assert.True(n >= cases, $"only {n} of {cases} cases ran");
        // No blank line before the first case: scripts/test.sh prints a failure up to its first blank line.
        Assert.True(failures.Count == 0, $"{failures.Count} of {n} cases broke the rules (seed {seed}):\n" + string.Join("\n\n", failures.Take(20)));
    }
}
