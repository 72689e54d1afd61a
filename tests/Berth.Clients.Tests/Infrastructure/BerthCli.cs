namespace Berth.Clients.Tests.Infrastructure;

/// <summary>The berth CLI under test: <c>BERTH_CLI</c>, else the repository's artifacts/publish/berth (NativeAOT).</summary>
public static class BerthCli
{
    public static string Path { get; } = ComparedRuntimes.Published("BERTH_CLI", "berth");

    /// <summary>A missing binary fails the test (a broken setup), it does not skip it.</summary>
    public static void EnsureExists()
    {
        if (!File.Exists(Path))
            throw new InvalidOperationException($"berth not found at {Path}: publish it (scripts/build.sh) or set BERTH_CLI");
    }
}
