using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Oci.Tests;

public class DefaultSpecTests
{
    // runc writes its own version and hostname; everything else must be identical, byte for byte.
    private static string RuncOutputAsBerth(string resource) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", resource))
            .Replace("\"ociVersion\": \"1.0.2-dev\"", $"\"ociVersion\": \"{SpecVersion.Current}\"")
            .Replace("\"hostname\": \"runc\"", "\"hostname\": \"berth\"");

    [Fact]
    public void MatchesRuncSpecOutput()
    {
        var expected = RuncOutputAsBerth("runc-spec.json");
        Assert.Contains(SpecVersion.Current, expected); // the replacement happened
        Assert.Equal(expected, DefaultSpec.ToJson(DefaultSpec.Create(rootless: false)));
    }

    [Fact]
    public void RootlessMatchesRuncSpecRootlessOutput()
    {
        // The resource was captured as root, so runc mapped host uid/gid 0.
        var expected = RuncOutputAsBerth("runc-spec-rootless.json");
        Assert.Equal(expected, DefaultSpec.ToJson(DefaultSpec.Create(rootless: true, hostUid: 0, hostGid: 0)));
    }

    [Fact]
    public void KeySetsEqualRuncs()
    {
        var runc = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", "runc-spec.json")))!;
        var berth = JsonNode.Parse(DefaultSpec.ToJson(DefaultSpec.Create(rootless: false)))!;
        Assert.Equal(KeyPaths(runc), KeyPaths(berth));
    }

    [Fact]
    public void RootlessMapsGivenIdsAndDropsNetworkNamespace()
    {
        var spec = DefaultSpec.Create(rootless: true, hostUid: 1234, hostGid: 5678);
        Assert.Equal(1234u, spec.Linux!.UidMappings![0].HostId);
        Assert.Equal(5678u, spec.Linux.GidMappings![0].HostId);
        Assert.DoesNotContain(spec.Linux.Namespaces!, n => n.Type == "network");
        Assert.Equal("user", spec.Linux.Namespaces![^1].Type);
        Assert.Null(spec.Linux.Resources);
        Assert.DoesNotContain(spec.Mounts!.SelectMany(m => m.Options ?? []), o => o.StartsWith("gid="));
    }

    [Fact]
    public void RootlessDefaultsToCurrentIds()
    {
        var uid = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2];
        var spec = DefaultSpec.Create(rootless: true);
        Assert.Equal(uint.Parse(uid), spec.Linux!.UidMappings![0].HostId);
    }

    [Fact]
    public void CgroupNamespaceIsAppendedOnRequest()
    {
        Assert.DoesNotContain(DefaultSpec.Create(false).Linux!.Namespaces!, n => n.Type == "cgroup");
        Assert.Equal("cgroup", DefaultSpec.Create(false, cgroupNamespace: true).Linux!.Namespaces![^1].Type);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsThroughLoader(bool rootless)
    {
        var json = DefaultSpec.ToJson(DefaultSpec.Create(rootless, hostUid: 1000, hostGid: 1000));
        var reparsed = SpecLoader.Parse(json, "config.json");
        Assert.Equal(json, DefaultSpec.ToJson(reparsed));
        Assert.Empty(SpecValidator.Validate(reparsed));
    }

    private static List<string> KeyPaths(JsonNode node, string prefix = "$")
    {
        var paths = new List<string>();
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    paths.Add($"{prefix}.{key}");
                    if (value is not null)
                        paths.AddRange(KeyPaths(value, $"{prefix}.{key}"));
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                    paths.AddRange(KeyPaths(a[i]!, $"{prefix}[{i}]"));
                break;
        }
        return paths;
    }
}
