using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>`--version` and `spec`: the generated config.json is one `run` accepts.</summary>
public sealed class VersionAndSpecTests(ITestOutputHelper output) : ContainerTest(output)
{
    // runc prints "runc version", and go/libseccomp lines: the layout is berth-runtime's own.
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData("--version")]
    [InlineData("-v")]
    public void Version_PrintsFourLines(string flag)
    {
        var result = Runtime.Run(flag);

        Assert.True(result.Succeeded, flag + " failed: " + result);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Matches(@"^berth-runtime version \d+\.\d+\.\d+\S*$", lines[0]);
        Assert.Matches(@"^commit: \S+$", lines[1]);
        Assert.Equal("spec: 1.2.0", lines[2]);
        Assert.Matches(@"^\S+: \S+$", lines[3]); // the runtime line, e.g. "dotnet: 10.0.x"
    }

    private RuntimeResult Spec(params string[] flags) => Runtime.Run(["spec", "--bundle", Bundle.Path, .. flags]);

    private JsonObject ReadConfig() => JsonNode.Parse(File.ReadAllText(Bundle.ConfigPath))!.AsObject();

    [SkippableFact]
    public void Spec_WritesAConfigThatRunAccepts()
    {
        var spec = Spec();
        Assert.True(spec.Succeeded, "spec failed: " + spec);
        var config = ReadConfig();
        Assert.Equal("rootfs", (string?)config["root"]!["path"]);
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = Specs.Strings("sh", "-c", "echo spec-ok; hostname");

        var run = RunContainer(config);

        Assert.True(run.Succeeded, "run of the generated config failed: " + run);
        Assert.Contains("spec-ok\n", run.Stdout);
    }

    [SkippableFact]
    public void SpecRootless_HasAUserNamespaceWithMappings()
    {
        var spec = Spec("--rootless");

        Assert.True(spec.Succeeded, "spec --rootless failed: " + spec);
        var linux = ReadConfig()["linux"]!;
        Assert.Contains(linux["namespaces"]!.AsArray(), n => (string?)n!["type"] == "user" && n["path"] is null);
        foreach (var field in new[] { "uidMappings", "gidMappings" })
        {
            var mapping = Assert.Single(linux[field]!.AsArray())!;
            Assert.Equal(0, (int)mapping["containerID"]!);
            Assert.Equal(1, (int)mapping["size"]!);
        }
        // The one id mapped is the caller's: root here.
        Assert.Equal(0, (int)linux["uidMappings"]![0]!["hostID"]!);
    }

    [SkippableFact]
    public void Spec_RefusesToOverwrite()
    {
        File.WriteAllText(Bundle.ConfigPath, "{\"keep\":true}");

        var spec = Spec();

        Assert.False(spec.Succeeded, "spec overwrote an existing config.json: " + spec);
        Assert.Contains("config.json", spec.Stderr);
        Assert.Equal("{\"keep\":true}", File.ReadAllText(Bundle.ConfigPath));
    }
}
