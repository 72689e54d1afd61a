using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>Bad bundles and configs: a non-zero exit, an error naming the culprit, nothing left behind; and --log.</summary>
public sealed class ErrorReportingTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>Checks a failure left nothing (state, cgroups, mounts, processes) before Dispose cleans up.</summary>
    private void AssertFailedCleanly(RuntimeResult result)
    {
        Assert.False(result.Succeeded, "expected a failure: " + result);
        Assert.False(result.TimedOut, "the runtime hung: " + result);
        Assert.False(string.IsNullOrWhiteSpace(result.Stderr), "no error message on stderr");
        Leaks.AssertClean();
    }

    private RuntimeResult CreateWithConfig(string? configText)
    {
        if (configText is not null)
            File.WriteAllText(Bundle.ConfigPath, configText);
        return Runtime.Run("create", "--bundle", Bundle.Path, Id);
    }

    [SkippableTheory]
    [InlineData("state")]
    [InlineData("create")]
    public void LogFileInJsonFormat_GetsAnErrorLine(string command)
    {
        var log = Path.Combine(WorkDirectory, "log.json");
        // state of an unknown id; create from a bundle without config.json.
        string[] arguments = command == "state" ? ["state", Id] : ["create", "--bundle", Bundle.Path, Id];

        var result = Runtime.Run(arguments, ["--log", log, "--log-format", "json"]);

        Assert.False(result.Succeeded);
        var entries = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var error = Assert.Single(entries, e => (string?)e["level"] == "error");
        Assert.False(string.IsNullOrWhiteSpace((string?)error["msg"]), "the error line has no msg");
    }

    [SkippableFact]
    public void MissingBundleDirectory_IsNamed()
    {
        var missing = Path.Combine(WorkDirectory, "no-such-bundle");

        var result = Runtime.Run("create", "--bundle", missing, Id);

        AssertFailedCleanly(result);
        Assert.Contains(missing, result.Stderr);
    }

    [SkippableFact]
    public void MissingConfig_IsNamed()
    {
        var result = CreateWithConfig(null);

        AssertFailedCleanly(result);
        Assert.Contains("config.json", result.Stderr);
    }

    // runc 1.1.5 says only "EOF" / "unexpected EOF", without naming config.json.
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData("")]
    [InlineData("{\"ociVersion\": ")]
    [InlineData("[1, 2]")]
    public void EmptyOrMalformedConfig_IsNamed(string text)
    {
        var result = CreateWithConfig(text);

        AssertFailedCleanly(result);
        Assert.Contains("config.json", result.Stderr);
    }

    [SkippableTheory]
    [InlineData("")]
    [InlineData("{\"ociVersion\": ")]
    [InlineData("[1, 2]")]
    public void EmptyOrMalformedConfig_FailsCleanly(string text) => AssertFailedCleanly(CreateWithConfig(text));

    [SkippableFact]
    public void UnknownNamespaceType_IsNamed()
    {
        var spec = Specs.Default("true").WithNamespace("bogus");

        var result = CreateWithConfig(spec.ToJsonString());

        AssertFailedCleanly(result);
        Assert.Contains("bogus", result.Stderr);
    }

    [SkippableFact]
    public void MissingExecutable_FailsAtCreate()
    {
        var spec = Specs.Default("/bin/bt-no-such-program", "arg");

        var result = CreateWithConfig(spec.ToJsonString());

        AssertFailedCleanly(result);
        Assert.Contains("bt-no-such-program", result.Stderr);
    }

    /// <summary>A spec whose RLIMIT_NOFILE hard limit exceeds ours: raising it needs CAP_SYS_RESOURCE, which root lacks here.</summary>
    private string RlimitAboveHardLimitSpec()
    {
        var line = File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var hard = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        Skip.If(hard == "unlimited", "no finite RLIMIT_NOFILE hard limit to exceed");
        var spec = Specs.Default("true");
        spec.Process()["rlimits"] = new JsonArray(
            new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 1024, ["hard"] = long.Parse(hard) + 1000 });
        Skip.If(CanRaiseLimits(), "this caller has CAP_SYS_RESOURCE: raising the hard limit would succeed");
        return spec.ToJsonString();
    }

    private static bool CanRaiseLimits() =>
        (Capabilities.ParseStatusValue(File.ReadAllText("/proc/self/status"), "CapEff") & (1UL << Capabilities.Number("SYS_RESOURCE"))) != 0;

    [SkippableFact]
    public void RlimitAboveTheHardLimit_FailsAtCreate() =>
        AssertFailedCleanly(CreateWithConfig(RlimitAboveHardLimitSpec()));

    // runc 1.1.5 says "error setting rlimit type 7: operation not permitted".
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void RlimitAboveTheHardLimit_IsNamed()
    {
        var result = CreateWithConfig(RlimitAboveHardLimitSpec());

        AssertFailedCleanly(result);
        Assert.Contains("RLIMIT_NOFILE", result.Stderr);
    }
}
