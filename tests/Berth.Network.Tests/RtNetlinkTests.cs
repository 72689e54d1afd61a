using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Berth.Linux;

namespace Berth.Network.Tests;

/// <summary>RtNetlink and NetworkNamespaceFile on the real kernel, in namespaces the tests make (root only).</summary>
public class RtNetlinkTests
{
    const int ENODEV = 19, ENETUNREACH = 101;

    static void RequireRoot() => Skip.IfNot(Environment.UserName == "root", "creating network namespaces needs root");

    [SkippableFact]
    public void KindOfNamesABridgeAVethLoopbackAndNothing()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        var netns = scratch.Create("kinds");
        using var links = ScratchNamespaces.OpenLinks(netns);
        links.CreateBridge("br-kind");
        links.CreateVethPair("veth-kind", "veth-kind-p", -1);
        Assert.Equal("bridge", links.KindOf("br-kind"));
        Assert.Equal("veth", links.KindOf("veth-kind"));
        Assert.Equal("veth", links.KindOf("veth-kind-p"));
        Assert.Equal("", links.KindOf("lo"));
        Assert.Null(links.KindOf("no-such-link"));
    }

    [SkippableFact]
    public void BridgeAndVethPairConnectTwoNamespaces()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        var host = scratch.Create("host");
        var container = scratch.Create("container");
        // Sockets opened inside RunIn stay in that namespace: the rest of the test uses them from this thread.
        using var hostLinks = ScratchNamespaces.OpenLinks(host);
        using (var containerLinks = ScratchNamespaces.OpenLinks(container))
        {
            hostLinks.CreateBridge("br-test");
            using (var containerNetns = Sys.Open(container, Libc.O_RDONLY))
                hostLinks.CreateVethPair("veth-test", "veth-peer", containerNetns.Value);
            hostLinks.SetMaster("veth-test", "br-test");
            hostLinks.AddAddress("br-test", IPAddress.Parse("198.18.7.1"), 24);
            hostLinks.SetUp("br-test");
            hostLinks.SetUp("veth-test");

            Assert.Equal(-1, hostLinks.LinkIndex("veth-peer"));
            containerLinks.Rename("veth-peer", "eth0");
            containerLinks.SetMacAddress("eth0", [0x02, 0x42, 0xc6, 0x12, 0x07, 0x02]);
            containerLinks.AddAddress("eth0", IPAddress.Parse("198.18.7.2"), 24);
            containerLinks.SetUp("eth0");
            containerLinks.AddDefaultRoute(IPAddress.Parse("198.18.7.1"));
        }

        // iproute2 sees in each namespace what was asked for.
        var bridgePort = Json(ScratchNamespaces.Run(host, "ip", "-j link show veth-test").Output)[0];
        Assert.Equal("br-test", bridgePort.GetProperty("master").GetString());
        Assert.Contains("UP", bridgePort.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        var bridge = Json(ScratchNamespaces.Run(host, "ip", "-j addr show br-test").Output)[0];
        Assert.Contains(("198.18.7.1", 24, "198.18.7.255"), Ipv4(bridge));
        var eth0 = Json(ScratchNamespaces.Run(container, "ip", "-j addr show eth0").Output)[0];
        Assert.Equal("02:42:c6:12:07:02", eth0.GetProperty("address").GetString());
        Assert.Contains("UP", eth0.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains(("198.18.7.2", 24, "198.18.7.255"), Ipv4(eth0));
        var routes = Json(ScratchNamespaces.Run(container, "ip", "-j route show default").Output);
        Assert.Single(routes);
        Assert.Equal("198.18.7.1", routes[0].GetProperty("gateway").GetString());
        Assert.Equal("eth0", routes[0].GetProperty("dev").GetString());
        Assert.Equal(["eth0", "lo"], Json(ScratchNamespaces.Run(container, "ip", "-j link").Output)
            .Select(l => l.GetProperty("ifname").GetString()).Order(StringComparer.Ordinal));

        // The container reaches the bridge through the pair (a few tries: the first ARP may be slow on a busy machine).
        var ping = (Exit: -1, Output: "");
        for (int attempt = 0; attempt < 5 && ping.Exit != 0; attempt++)
            ping = ScratchNamespaces.Run(container, "busybox", "ping -c1 -W2 198.18.7.1", check: false);
        Assert.True(ping.Exit == 0, $"ping from the container's namespace to the bridge failed: {ping.Output}");

        // The container's namespace ending takes its end of the pair, and so the host's end, with it.
        NetworkNamespaceFile.Remove(container);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (hostLinks.Links().Any(l => l.Name == "veth-test") && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.DoesNotContain("veth-test", hostLinks.Links().Select(l => l.Name));
        Assert.Contains("br-test", hostLinks.Links().Select(l => l.Name));
    }

    [SkippableFact]
    public void LinksAndAddressesMatchIproute()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        var netns = scratch.Create("links");
        using var links = ScratchNamespaces.OpenLinks(netns);
        links.CreateBridge("br-one");
        links.CreateVethPair("veth-a", "veth-b", -1);
        links.AddAddress("br-one", IPAddress.Parse("198.18.9.1"), 24);
        links.AddAddress("br-one", IPAddress.Parse("fd00:9::1"), 64);
        links.AddAddress("veth-a", IPAddress.Parse("198.18.10.5"), 30);
        links.SetUp("br-one");

        var expectedLinks = Json(ScratchNamespaces.Run(netns, "ip", "-j link").Output)
            .Select(l => (l.GetProperty("ifindex").GetInt32(), l.GetProperty("ifname").GetString()!)).OrderBy(l => l.Item1).ToList();
        Assert.Equal(["br-one", "lo", "veth-a", "veth-b"], expectedLinks.Select(l => l.Item2).Order(StringComparer.Ordinal));
        Assert.Equal(expectedLinks, links.Links().Select(l => (l.Index, l.Name)).ToList());
        Assert.Equal(links.Links().Single(l => l.Name == "veth-a").Index, links.LinkIndex("veth-a"));
        Assert.Equal(-1, links.LinkIndex("veth-none"));

        var expectedAddresses = Json(ScratchNamespaces.Run(netns, "ip", "-j addr").Output)
            .SelectMany(l => l.GetProperty("addr_info").EnumerateArray().Select(a =>
                $"{l.GetProperty("ifname").GetString()} {IPAddress.Parse(a.GetProperty("local").GetString()!)}/{a.GetProperty("prefixlen").GetInt32()}"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Contains("br-one 198.18.9.1/24", expectedAddresses);
        Assert.Contains("br-one fd00:9::1/64", expectedAddresses);
        Assert.Contains("veth-a 198.18.10.5/30", expectedAddresses);
        Assert.Contains("lo 127.0.0.1/8", expectedAddresses);
        Assert.Equal(expectedAddresses, links.Addresses().Select(a => $"{a.Link} {a.Address}/{a.PrefixLength}").Order(StringComparer.Ordinal).ToList());
    }

    [SkippableFact]
    public void CreatingAnExistingBridgeFailsWithEexistNamingIt()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        using var links = ScratchNamespaces.OpenLinks(scratch.Create("dup"));
        links.CreateBridge("br-dup");
        AssertRefused(() => links.CreateBridge("br-dup"), Errno.EEXIST, "RTM_NEWLINK bridge \"br-dup\": File exists");
    }

    [SkippableFact]
    public void ChangingAMissingLinkFailsNamingIt()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        using var links = ScratchNamespaces.OpenLinks(scratch.Create("missing"));
        AssertRefused(() => links.DeleteLink("veth-gone"), ENODEV, "RTM_DELLINK \"veth-gone\": No such device");
        AssertRefused(() => links.AddAddress("veth-gone", IPAddress.Parse("198.18.3.2"), 24), ENODEV, "RTM_NEWADDR 198.18.3.2/24 on \"veth-gone\": No such device");
        links.CreateBridge("br-here");
        AssertRefused(() => links.SetMaster("br-here", "br-gone"), ENODEV, "RTM_SETLINK \"br-here\" master \"br-gone\" (no link \"br-gone\"): No such device");
    }

    [SkippableFact]
    public void KernelRefusalsCarryTheirErrno()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        using var links = ScratchNamespaces.OpenLinks(scratch.Create("refusals"));
        links.CreateVethPair("veth-up", "veth-other", -1);
        AssertRefused(() => links.Rename("veth-up", "veth-other"), Errno.EEXIST, "RTM_SETLINK \"veth-up\" name \"veth-other\": File exists");
        // No link has 198.18.4.0/24: the gateway cannot be reached.
        AssertRefused(() => links.AddDefaultRoute(IPAddress.Parse("198.18.4.1")), ENETUNREACH, "RTM_NEWROUTE default via 198.18.4.1: Network is unreachable");
        Assert.Throws<ArgumentException>(() => links.CreateBridge("br-name-far-too-long"));
        Assert.Throws<ArgumentException>(() => links.SetMacAddress("veth-up", [1, 2, 3]));
    }

    [SkippableFact]
    public void RunInJoinsOnlyItsOwnThread()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        var netns = scratch.Create("join");
        var before = ScratchNamespaces.NetnsOfThisThread();
        var inside = NetworkNamespaceFile.RunIn(netns, ScratchNamespaces.NetnsOfThisThread);
        Assert.NotEqual(before, inside);
        Assert.Equal(ScratchNamespaces.NetnsOf(netns), inside);
        Assert.Equal(before, ScratchNamespaces.NetnsOfThisThread());
        Assert.Equal(before, Task.Run(ScratchNamespaces.NetnsOfThisThread).Result);
        // A new namespace has its loopback up and nothing else.
        Assert.Equal(["lo"], NetworkNamespaceFile.RunIn(netns, () =>
        {
            using var links = RtNetlink.Open();
            return links.Links().Select(l => l.Name).ToList();
        }));
        Assert.Contains("UP", Json(ScratchNamespaces.Run(netns, "ip", "-j link show lo").Output)[0].GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        // An exception in the work comes back to the caller.
        var thrown = Assert.Throws<InvalidOperationException>(() => NetworkNamespaceFile.RunIn<int>(netns, () => throw new InvalidOperationException("from inside")));
        Assert.Equal("from inside", thrown.Message);
    }

    [SkippableFact]
    public async Task SocketsMadeInRunInStayInItsNamespace()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        var netns = scratch.Create("sockets");
        using var links = ScratchNamespaces.OpenLinks(netns);
        links.CreateBridge("br-sock");
        // 198.18.11.1 exists only in this namespace: binding it anywhere else fails with EADDRNOTAVAIL.
        links.AddAddress("br-sock", IPAddress.Parse("198.18.11.1"), 24);
        using var listener = NetworkNamespaceFile.RunIn(netns, () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.18.11.1"), 0));
            socket.Listen();
            return socket;
        });
        var endpoint = (IPEndPoint)listener.LocalEndPoint!;
        using var client = NetworkNamespaceFile.RunIn(netns, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        // Used from this thread and the runtime's I/O threads, both in the host's namespace, after RunIn's thread ended.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var accept = listener.AcceptAsync(timeout.Token);
        await client.ConnectAsync(endpoint, timeout.Token);
        using var accepted = await accept;
        Assert.Equal(endpoint, accepted.LocalEndPoint);
        using var outside = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var error = Assert.Throws<SocketException>(() => outside.Bind(new IPEndPoint(IPAddress.Parse("198.18.11.1"), 0)));
        Assert.Equal(SocketError.AddressNotAvailable, error.SocketErrorCode);
    }

    [SkippableFact]
    public void NamespaceFilesRefuseWhatIsNotOne()
    {
        RequireRoot();
        using var scratch = new ScratchNamespaces();
        var plain = Path.Combine(scratch.Directory, "plain");
        File.WriteAllText(plain, "");
        AssertRefused(() => NetworkNamespaceFile.RunIn(plain, () => 0), Errno.EINVAL, $"setns CLONE_NEWNET {plain} (not a network namespace file): Invalid argument");
        var missing = Path.Combine(scratch.Directory, "missing");
        AssertRefused(() => NetworkNamespaceFile.RunIn(missing, () => 0), Errno.ENOENT, $"open {missing}: No such file or directory");

        AssertRefused(() => NetworkNamespaceFile.Create(plain), Errno.EEXIST, $"open {plain}: File exists");
        var noDirectory = Path.Combine(scratch.Directory, "none", "netns");
        AssertRefused(() => NetworkNamespaceFile.Create(noDirectory), Errno.ENOENT, $"open {noDirectory}: No such file or directory");

        // Remove tolerates a file that is not mounted, and one that is gone.
        NetworkNamespaceFile.Remove(plain);
        Assert.False(File.Exists(plain));
        NetworkNamespaceFile.Remove(missing);
        var twice = scratch.Create("twice");
        NetworkNamespaceFile.Remove(twice);
        NetworkNamespaceFile.Remove(twice);
        Assert.False(File.Exists(twice));
    }

    static void AssertRefused(Action action, int errno, string message)
    {
        var error = Assert.Throws<LinuxException>(action);
        Assert.Equal(errno, error.Errno);
        Assert.Equal(message, error.Message);
    }

    static List<JsonElement> Json(string text) => JsonDocument.Parse(text).RootElement.EnumerateArray().ToList();

    static List<(string, int, string?)> Ipv4(JsonElement link) =>
        link.GetProperty("addr_info").EnumerateArray().Where(a => a.GetProperty("family").GetString() == "inet")
            .Select(a => (a.GetProperty("local").GetString()!, a.GetProperty("prefixlen").GetInt32(),
                a.TryGetProperty("broadcast", out var b) ? b.GetString() : null)).ToList();
}
