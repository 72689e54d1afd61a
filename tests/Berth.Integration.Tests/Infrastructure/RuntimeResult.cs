namespace Berth.Integration.Tests.Infrastructure;

/// <summary>What one invocation of the runtime binary produced.</summary>
public sealed record RuntimeResult(IReadOnlyList<string> Arguments, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, bool TimedOut)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Stdout and stderr together, for loose "the message names X" checks.</summary>
    public string Output => Stdout + Stderr;

    public override string ToString() =>
        $"`{string.Join(' ', Arguments)}` -> exit {ExitCode}{(TimedOut ? " (timed out)" : "")} in {Elapsed.TotalMilliseconds:F0} ms\n" +
        $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}
