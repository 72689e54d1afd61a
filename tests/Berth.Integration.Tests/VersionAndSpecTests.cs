using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>`--version` and `spec`: the generated config.json is one `run` accepts.</summary>
public sealed class VersionAndSpecTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>
    /// runc's three lines, which tools read line by line (dockerd's `info` takes the name before "version" and the
    /// commit; go-runc the "commit:" and "spec:" lines): "NAME version V", "commit: C", "spec: S". runc adds go and
    /// libseccomp lines after them; further lines are "name: value" too.
    /// </summary>
    [SkippableTheory]
    [InlineData("--version")]
    [InlineData("-v")]
    public void Version_StartsWithRuncsThreeLines(string flag)
    {
        var result = Runtime.Run(flag);

        Assert.True(result.Succeeded, flag + " failed: " + result);
        Assert.Equal("", result.Stderr);
        Assert.EndsWith("\n", result.Stdout);
        var lines = result.Stdout.Split('\n')[..^1];
        Assert.True(lines.Length >= 3, "fewer than three lines: " + result.Stdout);
        Assert.Matches(@"^[a-z][a-z-]* version \d+\.\d+\.\d+\S*$", lines[0]);
        Assert.Matches(@"^commit: \S+$", lines[1]);
        Assert.Matches(@"^spec: \d+\.\d+\.\d+\S*$", lines[2]);
        Assert.All(lines[3..], line => Assert.Matches(@"^[a-z]+: \S+$", line));
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc's name and spec version are its own
    public void Version_NamesBerthRuntimeAndTheSpecItImplements()
    {
        var lines = Runtime.Run("--version").Stdout.Split('\n');

        Assert.StartsWith("berth-runtime version ", lines[0]);
        Assert.Equal("spec: 1.2.0", lines[2]);
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
