using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>
/// A moment in a runtime command, named by the system call that marks it (native/kill-at-syscall.c has the rule's
/// syntax): e.g. <c>exit:runtime:rename:1:/.claim-</c>, the return of the rename that claims the id.
/// </summary>
public sealed record FaultPoint(string Phase, string Rule)
{
    public override string ToString() => Phase;
}

/// <summary>What one traced command did: its result, and whether the fault point was reached (the runtime was then
/// SIGKILLed there) or the command ended first.</summary>
public sealed record TracedResult(RuntimeResult Result, string Report)
{
    public bool Hit => Report.StartsWith("hit ", StringComparison.Ordinal);
}

/// <summary>
/// Runs the runtime under the ptrace helper (kill-at-syscall, built next to the test assembly), which SIGKILLs it at a
/// <see cref="FaultPoint"/>: the published binary is traced as it is, no fault-injection code is compiled into it.
/// </summary>
public sealed class KillAtSyscall(string stateRoot, string ioDirectory, ITestOutputHelper output)
{
    public static string HelperPath { get; } = Path.Combine(AppContext.BaseDirectory, "kill-at-syscall");

    readonly RuntimeRunner _runner = new(stateRoot, ioDirectory, output, HelperPath);
    int _runs;

    public TracedResult Run(FaultPoint point, TimeSpan timeout, params string[] arguments)
    {
        string report = Path.Combine(ioDirectory, $"kill-at-{Interlocked.Increment(ref _runs)}.report");
        var result = _runner.RunAsync(arguments, timeout: timeout, invocation: new RuntimeInvocation
        {
            Environment = new Dictionary<string, string>
            {
                ["KILLAT_RULE"] = point.Rule,
                ["KILLAT_PROGRAM"] = RuntimeBinary.Path,
                ["KILLAT_REPORT"] = report,
            },
        }).GetAwaiter().GetResult();
        return new TracedResult(result, File.Exists(report) ? File.ReadAllText(report).Trim() : "");
    }
}
