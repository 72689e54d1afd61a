using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class UserNamespaceTests(ITestOutputHelper output) : ContainerTest(output)
{
    private const int HostId = 100000;
    private const int Size = 65536;

    private static JsonArray Mapping() =>
        new(new JsonObject { ["containerID"] = 0, ["hostID"] = HostId, ["size"] = Size });

    [SkippableFact]
    public void MappedRoot_SeesItsIdMaps_AndIsUid0()
    {
        Bundle.ChownRootfs(HostId, HostId);
        var spec = Specs.Shell("echo uid_map $(cat /proc/self/uid_map); echo gid_map $(cat /proc/self/gid_map); " +
                               "echo id $(id -u) $(id -g); echo ns $(readlink /proc/self/ns/user)")
            .WithNamespace("user");
        spec.Linux()["uidMappings"] = Mapping();
        spec.Linux()["gidMappings"] = Mapping();

        var stdout = RunShell(spec);

        Assert.Contains($"uid_map 0 {HostId} {Size}\n", stdout);
        Assert.Contains($"gid_map 0 {HostId} {Size}\n", stdout);
        Assert.Contains("id 0 0\n", stdout);
        Assert.DoesNotContain(HostReadLink("/proc/self/ns/user"), stdout);
    }

    [SkippableFact]
    public void ContainerRoot_IsTheMappedHostUid_SeenFromTheHost()
    {
        Bundle.ChownRootfs(HostId, HostId);
        var spec = Specs.Default("sleep", "1000").WithNamespace("user");
        spec.Linux()["uidMappings"] = Mapping();
        spec.Linux()["gidMappings"] = Mapping();
        Bundle.WriteConfig(spec);

        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        var status = File.ReadAllText($"/proc/{Pid()}/status");

        Assert.Matches($@"Uid:\s+{HostId}\s+{HostId}\s+{HostId}\s+{HostId}", status);
        Assert.Matches($@"Gid:\s+{HostId}\s+{HostId}\s+{HostId}\s+{HostId}", status);
        Assert.NotEqual(HostReadLink("/proc/self/ns/user"), HostReadLink($"/proc/{Pid()}/ns/user"));
    }
}
