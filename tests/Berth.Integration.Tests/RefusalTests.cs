using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// What berth-runtime does not support yet is refused up front: a non-zero exit, one error naming the culprit,
/// and nothing left behind. runc supports the systemd driver and ignores unknown capabilities, so
/// those tests are berth-only.
/// </summary>
public sealed class RefusalTests(ITestOutputHelper output) : ContainerTest(output)
{
    private void AssertRefused(RuntimeResult result, string culprit)
    {
        Assert.False(result.Succeeded, "expected a refusal: " + result);
        Assert.False(result.TimedOut, "the runtime hung: " + result);
        Assert.Contains(culprit, result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(StateRoot, Id)), "a state directory was left for " + Id);
        Leaks.AssertClean();
    }

    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData(true)]
    [InlineData(false)]
    public void SystemdCgroup_IsRefused(bool beforeTheVerb)
    {
        Bundle.WriteConfig(Specs.Default("true"));
        string[] create = ["create", "--bundle", Bundle.Path, Id];

        var result = beforeTheVerb
            ? Runtime.Run(create, ["--systemd-cgroup"])
            : Runtime.Run([.. create[..^1], "--systemd-cgroup", Id]);

        AssertRefused(result, "--systemd-cgroup");
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void UnknownCapability_IsRefused_NamingItAndItsPlace()
    {
        var spec = Specs.Default("true");
        spec.Process()["capabilities"]!["bounding"]!.AsArray().Add("CAP_BT_BOGUS");

        var result = Create(spec);

        AssertRefused(result, "CAP_BT_BOGUS");
        Assert.Contains("process.capabilities.bounding", result.Stderr);
    }

    [SkippableFact]
    public void UnknownLogFormat_IsRefused()
    {
        Bundle.WriteConfig(Specs.Default("true"));

        var result = Runtime.Run(["create", "--bundle", Bundle.Path, Id], ["--log-format", "xml"]);

        AssertRefused(result, "xml");
    }
}
