using System.Text;
using System.Text.Json;
using Berth.ExecDrivers;

namespace Berth.Monitor.Tests;

/// <summary>The monitor's exit path reads the spec's linux.cgroupsPath (for the OOM count) without building the spec.</summary>
public sealed class BundleCgroupTests
{
    static string? PathOf(string json) => BundleCgroup.CgroupsPathOf(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Finds_linux_cgroupsPath_past_everything_else_and_only_there()
    {
        const string spec = """
            {"ociVersion":"1.0.2","annotations":{"cgroupsPath":"/not/this"},"process":{"args":["true"],"env":["cgroupsPath=/nor/this"]},
             "linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},
                      "resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"}],"cgroupsPath":"/docker/abc"},
             "hostname":"x"}
            """;
        Assert.Equal("/docker/abc", PathOf(spec));
    }

    [Fact]
    public void Null_without_linux_or_cgroupsPath()
    {
        Assert.Null(PathOf("""{"process":{"args":["true"]}}"""));
        Assert.Null(PathOf("""{"linux":{"namespaces":[]}}"""));
        Assert.Null(PathOf("""{"linux":{"cgroupsPath":null}}"""));
    }

    [Fact]
    public void Refuses_what_is_not_a_spec_object()
    {
        Assert.ThrowsAny<JsonException>(() => PathOf("[1]"));
        Assert.ThrowsAny<JsonException>(() => PathOf("""{"linux":{"cgroupsPath":"""));
    }
}
