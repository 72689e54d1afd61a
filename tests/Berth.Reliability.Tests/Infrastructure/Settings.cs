namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>The suite's sizes, from the environment (CI runs the defaults; more cases find more).</summary>
public static class Settings
{
    /// <summary>BERTH_RELIABILITY_CYCLES: create/start/delete cycles; the hardening issue's 1000 take about 2 minutes here.</summary>
    public static int Cycles => Number("BERTH_RELIABILITY_CYCLES", 1000);

    /// <summary>BERTH_RELIABILITY_FUZZ_CASES: config.json cases the fuzzer runs.</summary>
    public static int FuzzCases => Number("BERTH_RELIABILITY_FUZZ_CASES", 2000);

    /// <summary>BERTH_RELIABILITY_SEED: replays a fuzz run (its seed is printed at the start).</summary>
    public static int? Seed => int.TryParse(Environment.GetEnvironmentVariable("BERTH_RELIABILITY_SEED"), out int s) ? s : null;

    static int Number(string variable, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), out int n) && n > 0 ? n : fallback;
}
