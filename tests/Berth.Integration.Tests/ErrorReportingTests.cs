using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>Bad input: a non-zero exit, an error naming the culprit, and nothing left behind.</summary>
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

    [SkippableTheory]
    [InlineData("bt-a/b")]
    [InlineData("..")]
    [InlineData("../bt-escape")]
    [InlineData("bt-x/../../bt-escape")]
    public void InvalidIds_AreRefused(string id)
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var parent = Directory.GetParent(StateRoot)!.FullName;
        var before = Directory.EnumerateFileSystemEntries(parent).Order().ToArray();

        var result = Runtime.Run("create", "--bundle", Bundle.Path, id);

        Assert.False(result.Succeeded, "an invalid id was accepted: " + result);
        Assert.Equal(before, Directory.EnumerateFileSystemEntries(parent).Order().ToArray());
        Assert.False(Directory.Exists(Path.Combine(StateRoot, "..", "bt-escape")));
        Leaks.AssertClean();
    }

    // runc 1.1.5 says "invalid container ID format" without the id.
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData("bt-a/b")]
    [InlineData("..")]
    public void InvalidIds_AreNamed(string id)
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));

        var result = Runtime.Run("create", "--bundle", Bundle.Path, id);

        Assert.False(result.Succeeded);
        Assert.Contains(id, result.Stderr);
    }

    [SkippableFact]
    public void DuplicateId_IsRefused_AndTheFirstSurvives()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("create", "--bundle", Bundle.Path, Id).Succeeded);
        var pid = Pid();

        var second = Runtime.Run("create", "--bundle", Bundle.Path, Id);

        Assert.False(second.Succeeded);
        Assert.Equal("created", Status());
        Assert.Equal(pid, Pid());
    }

    // runc 1.1.5 says "container with given ID already exists" / "container does not exist" without the id.
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void DuplicateAndUnknownIds_AreNamed()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("create", "--bundle", Bundle.Path, Id).Succeeded);

        var duplicate = Runtime.Run("create", "--bundle", Bundle.Path, Id);
        var unknownId = TrackId(NewId());
        var unknown = Runtime.Run("state", unknownId);

        Assert.False(duplicate.Succeeded);
        Assert.Contains(Id, duplicate.Stderr);
        Assert.False(unknown.Succeeded);
        Assert.Contains(unknownId, unknown.Stderr);
    }

    [SkippableFact]
    public void StateAfterDelete_Fails()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("create", "--bundle", Bundle.Path, Id).Succeeded);
        Assert.True(Runtime.Run("delete", "--force", Id).Succeeded);

        var state = State();

        Assert.False(state.Succeeded);
        Assert.False(string.IsNullOrWhiteSpace(state.Stderr));
    }

    [SkippableFact]
    public void StartOfAnUnknownContainer_Fails() =>
        Assert.False(Runtime.Run("start", Id).Succeeded);
}
