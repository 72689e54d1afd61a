using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>
/// A test that runs config.json cases through `run` and judges each with <see cref="FuzzOracle"/>: the fuzzer, and the
/// fixed cases that once broke the rules. Each case runs as a new container "&lt;Id&gt;-N" in the test's bundle.
/// </summary>
public abstract class ConfigCaseTest : ContainerTest
{
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    int _cases;

    protected ConfigCaseTest(ITestOutputHelper output) : base(output)
    {
        Leaks.IncludeDerivedIds = true;
        // Cases run by the thousand: only failures are written to the test's output.
        Quiet = new RuntimeRunner(StateRoot, Path.Combine(WorkDirectory, "io"), SilentOutput.Instance);
        string dir = HostDirectory("spec");
        var spec = Quiet.Run("spec", "--bundle", dir);
        Assert.True(spec.Succeeded, spec.ToString());
        BaseSpec = ConfigMutations.Base(File.ReadAllText(Path.Combine(dir, "config.json")));
    }

    protected RuntimeRunner Quiet { get; }

    /// <summary>runc's default spec as `spec` writes it, made to run /bin/true (<see cref="ConfigMutations.Base"/>).</summary>
    protected JsonObject BaseSpec { get; }

    /// <summary>Runs config.json <paramref name="text"/>; returns the result, and why it broke the rules (null: it did not).</summary>
    protected (RuntimeResult Result, string? Why) RunCase(string text)
    {
        string id = $"{Id}-{++_cases}";
        File.WriteAllBytes(Bundle.ConfigPath, ConfigMutations.Bytes(text));
        var result = Quiet.Run(["run", "--bundle", Bundle.Path, id], globalArguments: null, timeout: Bound);
        var leaks = Leaks.FindLeaks();
        if (leaks.Count > 0)
        {
            Quiet.Run("delete", "--force", id);
            leaks = Leaks.WaitForClean(TimeSpan.FromSeconds(5));
        }
        string? why = FuzzOracle.Judge(result, leaks);
        if (leaks.Count > 0) Leaks.Reap();
        return (result, why);
    }
}
