using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>`features` tells the truth about what the runtime applies; recursive mount attributes are applied.</summary>
public sealed class FeaturesAndMountAttributeTests(ITestOutputHelper output) : ContainerTest(output)
{
    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 has no `features`
    public void Features_ListsWhatTheRuntimeApplies()
    {
        var result = Runtime.Run("features");

        Assert.True(result.Succeeded, "features failed: " + result);
        var f = JsonNode.Parse(result.Stdout)!.AsObject();
        Assert.Equal("1.0.0", (string)f["ociVersionMin"]!);
        Assert.Equal(6, f["hooks"]!.AsArray().Count);
        var options = f["mountOptions"]!.AsArray().Select(o => (string)o!).ToList();
        Assert.Contains("rro", options);
        Assert.Contains("rbind", options);
        Assert.DoesNotContain("idmap", options);
        Assert.Contains("tmpcopyup", options);
        var seccomp = f["linux"]!["seccomp"]!;
        Assert.True((bool)seccomp["enabled"]!);
        Assert.Contains("SCMP_ACT_NOTIFY", seccomp["actions"]!.AsArray().Select(a => (string)a!));
        Assert.False((bool)f["linux"]!["cgroup"]!["systemd"]!);
        Assert.False((bool)f["linux"]!["mountExtensions"]!["idmap"]!["enabled"]!);
        Assert.Contains("time", f["linux"]!["namespaces"]!.AsArray().Select(n => (string)n!));
    }

    [SkippableFact]
    public void RecursiveReadOnly_MakesASubmountReadOnlyToo()
    {
        string host = HostDirectory("rro");
        string sub = Path.Combine(host, "sub");
        Directory.CreateDirectory(sub);
        // A tmpfs below the bind source: plain "ro" would leave it writable, "rro" must not.
        RunTool("mount", "-t", "tmpfs", "bt-rro", sub);
        try
        {
            var spec = Specs.Shell("touch /data/sub/x 2>&1; echo rc=$?; touch /data/y 2>&1; echo rc=$?");
            spec.Mounts().Add(Specs.Mount("/data", "bind", host, "rbind", "rro"));

            string outText = RunShell(spec);

            Assert.Equal(2, outText.Split('\n').Count(l => l.Trim() == "rc=1"));
            Assert.Contains("Read-only file system", outText);
            Assert.False(File.Exists(Path.Combine(sub, "x")));
        }
        finally
        {
            RunTool("umount", sub);
        }
    }

    static void RunTool(string file, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(file, args);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed with {p.ExitCode}");
    }
}
