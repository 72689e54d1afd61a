using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// A linux.resources value no host takes is refused by `create` before it claims the id or makes a cgroup (the
/// converter checks it; `--debug` shows no cgroup phase), with the JSON path in the message and nothing left; and
/// `update` refuses the same values before its first write, so a refused update changes no limit. runc refuses these
/// values only when it writes them, after its cgroups were made (its messages name the cgroup file instead), hence
/// runc-compatible false.
/// </summary>
public sealed class ResourceRefusalTests(ITestOutputHelper output) : ContainerTest(output)
{
    public static TheoryData<string, string> BadValues => new()
    {
        { """{"memory":{"limit":104857600,"swap":52428800}}""", "linux.resources.memory.swap" },
        { """{"memory":{"limit":-2}}""", "linux.resources.memory.limit" },
        { """{"cpu":{"shares":1}}""", "linux.resources.cpu.shares" },
        { """{"cpu":{"quota":500}}""", "linux.resources.cpu.quota" },
        { """{"cpu":{"realtimePeriod":1000,"realtimeRuntime":2000}}""", "linux.resources.cpu.realtimeRuntime" },
        { """{"cpu":{"cpus":"3-1"}}""", "linux.resources.cpu.cpus" },
        { """{"unified":{"memory.bogus":"1"}}""", "linux.resources.unified" },
        { """{"hugepageLimits":[{"pageSize":"64KB","limit":0}]}""", "linux.resources.hugepageLimits[0].pageSize" },
    };

    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [MemberData(nameof(BadValues))]
    public void BadResource_IsRefusedByCreate_BeforeAnyCgroupIsMade(string resources, string path)
    {
        var spec = Specs.Default("true");
        spec["linux"]!["resources"] = JsonNode.Parse(resources);
        Bundle.WriteConfig(spec);

        var create = Runtime.Run(["create", "--bundle", Bundle.Path, Id], ["--debug"]);

        Assert.False(create.Succeeded, "expected a refusal: " + create);
        Assert.False(create.TimedOut, "the runtime hung: " + create);
        Assert.Contains(path, create.Stderr);
        Assert.DoesNotContain("phase cgroups", create.Stderr);
        Assert.DoesNotContain("/sys/fs/cgroup/", create.Stderr);
        Assert.False(Directory.Exists(Path.Combine(StateRoot, Id)), "a state directory was left for " + Id);
        Leaks.AssertClean();
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void BadUpdate_IsRefusedBeforeItsFirstWrite_AndChangesNoLimit()
    {
        Bundle.WriteConfig(Specs.Shell("sleep 1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        string Read(string controller, string file) => CgroupResourceTests.HostCgroupFile(Id, controller, file);
        string quota = Read("cpu", "cpu.cfs_quota_us"), shares = Read("cpu", "cpu.shares");

        // The period is out of the kernel's range; the quota alone would have been taken.
        var json = new JsonObject { ["cpu"] = new JsonObject { ["quota"] = 20000, ["period"] = 500 } };
        var fromJson = Runtime.RunWithInput(json.ToJsonString(), "update", "-r", "-", Id);
        var fromFlags = Runtime.Run("update", "--cpu-share", "1", Id);

        Assert.False(fromJson.Succeeded, "expected a refusal: " + fromJson);
        Assert.Contains("linux.resources.cpu.period 500 is outside", fromJson.Stderr);
        Assert.False(fromFlags.Succeeded, "expected a refusal: " + fromFlags);
        Assert.Contains("linux.resources.cpu.shares 1 is outside", fromFlags.Stderr);
        Assert.Equal(quota, Read("cpu", "cpu.cfs_quota_us"));
        Assert.Equal(shares, Read("cpu", "cpu.shares"));
        Assert.Equal("running", Status());
    }
}
