using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>Container ids: invalid ones refused without escaping the state root, duplicates and unknown ids.</summary>
public sealed class ContainerIdTests(ITestOutputHelper output) : ContainerTest(output)
{
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
