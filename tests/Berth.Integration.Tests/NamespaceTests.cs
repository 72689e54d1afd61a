using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class NamespaceTests(ITestOutputHelper output) : ContainerTest(output)
{
    // /proc/self/ns link name for each OCI namespace type.
    private static readonly Dictionary<string, string> LinkNames = new()
    {
        ["pid"] = "pid", ["network"] = "net", ["ipc"] = "ipc", ["uts"] = "uts", ["mount"] = "mnt", ["cgroup"] = "cgroup",
    };

    private Dictionary<string, string> InsideNamespaces(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .Where(parts => parts.Length == 2 && parts[0].StartsWith("ns:", StringComparison.Ordinal))
            .ToDictionary(parts => parts[0][3..], parts => parts[1]);

    private static string ListNamespacesScript() =>
        string.Join("; ", LinkNames.Values.Select(n => $"echo ns:{n} $(readlink /proc/self/ns/{n})"));

    [SkippableFact]
    public void EveryListedNamespace_DiffersFromTheHost()
    {
        var inside = InsideNamespaces(RunShell(Specs.Shell(ListNamespacesScript())));

        foreach (var (type, link) in LinkNames)
        {
            var host = HostReadLink($"/proc/self/ns/{link}");
            Assert.True(inside.TryGetValue(link, out var container), $"no {link} namespace line in the container output");
            Assert.StartsWith(link + ":[", container);
            Assert.True(host != container, $"{type} namespace inside ({container}) equals the host's");
        }
    }

    [SkippableFact]
    public void UnlistedNamespaces_AreSharedWithTheHost()
    {
        var spec = Specs.Shell(ListNamespacesScript()).WithNamespaces("pid", "mount");
        spec.Remove("hostname"); // a hostname needs a private UTS namespace
        var inside = InsideNamespaces(RunShell(spec));

        Assert.NotEqual(HostReadLink("/proc/self/ns/pid"), inside["pid"]);
        Assert.NotEqual(HostReadLink("/proc/self/ns/mnt"), inside["mnt"]);
        foreach (var link in new[] { "net", "ipc", "uts", "cgroup" })
            Assert.Equal(HostReadLink($"/proc/self/ns/{link}"), inside[link]);
    }

    [SkippableFact]
    public void JoinedNetworkNamespace_EqualsTheTarget()
    {
        var hostNet = HostReadLink("/proc/self/ns/net");
        var holder = StartHelper("unshare", "-n", "sleep", "1000");
        var targetLink = $"/proc/{holder.Id}/ns/net";
        string target = "";
        Eventually(() => (target = HostReadLink(targetLink)) != hostNet, "the namespace holder to unshare its network");

        var spec = Specs.Shell("readlink /proc/self/ns/net").WithNamespace("network", targetLink);
        var inside = RunShell(spec).Trim();

        Assert.Equal(target, inside);
    }

    [SkippableFact]
    public void ProcessIsPid1_AndHostnameIsSet()
    {
        var spec = Specs.Shell("echo pid=$$; echo host=$(hostname)");
        spec["hostname"] = "bt-host";

        var stdout = RunShell(spec);

        Assert.Contains("pid=1\n", stdout);
        Assert.Contains("host=bt-host\n", stdout);
    }

    // runc 1.1.5 ignores "domainname" (added in runc 1.2): the container keeps "(none)".
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void Domainname_IsSet()
    {
        var spec = Specs.Shell("cat /proc/sys/kernel/domainname");
        spec["domainname"] = "bt.example";

        Assert.Equal("bt.example", RunShell(spec).Trim());
    }
}
