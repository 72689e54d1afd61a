using Xunit.Abstractions;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// Runs one client scenario on runc and then on berth-runtime, checks runc's outcome against what the scenario
/// expects (so the comparison is not vacuous: both failing the same way would otherwise "agree"), and then requires
/// berth-runtime's outcome to be the same, step by step: same exit codes, same output.
/// </summary>
public static class Comparison
{
    public static void SameOnBoth(ITestOutputHelper output, Func<RuntimeUnderTest, ScenarioOutcome> scenario,
        Action<ScenarioOutcome> expectedOnRunc)
    {
        var reference = RunOn(output, ComparedRuntimes.Runc, scenario);
        try
        {
            expectedOnRunc(reference);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"the scenario does not do what it should on runc (the reference):\n{reference}\n{e.Message}", e);
        }

        var berth = RunOn(output, ComparedRuntimes.Berth, scenario);
        var differences = new List<string>();
        for (var i = 0; i < Math.Max(reference.Steps.Count, berth.Steps.Count); i++)
        {
            var r = i < reference.Steps.Count ? reference.Steps[i] : null;
            var b = i < berth.Steps.Count ? berth.Steps[i] : null;
            if (r != b)
                differences.Add($"  runc:  {r?.ToString() ?? "(no step)"}\n  berth: {b?.ToString() ?? "(no step)"}");
        }
        Assert.True(differences.Count == 0,
            $"berth-runtime and runc disagree on {differences.Count} step(s):\n{string.Join("\n", differences)}\n" +
            $"(client commands and their full output are in the test output)");
    }

    private static ScenarioOutcome RunOn(ITestOutputHelper output, RuntimeUnderTest runtime, Func<RuntimeUnderTest, ScenarioOutcome> scenario)
    {
        output.WriteLine($"==== {runtime}");
        var outcome = scenario(runtime);
        output.WriteLine($"---- outcome on {runtime.Name}:\n{outcome}");
        return outcome;
    }
}
