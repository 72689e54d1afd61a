using System.Text.RegularExpressions;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>The address pool both daemons take subnets from when none is given (inside their test namespaces only).</summary>
static class TestPools
{
    public static readonly string[] Flags = ["--default-address-pool", "base=198.18.128.0/17,size=24"];
}

/// <summary>berthd in a network namespace of its own, with dockerd's "bb" image loaded: its bridges stay in there.</summary>
public sealed class NetnsBerthd : IDisposable
{
    readonly Lazy<(TestNetns Netns, DaemonInstance Daemon)> _started;

    public NetnsBerthd() => _started = new(() =>
    {
        Skip.IfNot(Tools.IsRoot, "network tests run as root (integration section of scripts/test.sh)");
        var root = Directory.CreateTempSubdirectory("berthd-net-").FullName;
        var netns = new TestNetns(root);
        return (netns, DaemonInstance.StartIn(netns.Path, null, [.. ContainerDaemon.ExtraArgs, .. TestPools.Flags]));
    });

    public DaemonInstance Daemon => _started.Value.Daemon;
    public TestNetns Netns => _started.Value.Netns;

    public void Dispose()
    {
        if (!_started.IsValueCreated) return;
        var (netns, daemon) = _started.Value;
        try
        {
            var left = DockerCli.Docker(daemon, "ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (left.Length > 0) DockerCli.Docker(daemon, ["rm", "-f", .. left]);
        }
        finally
        {
            daemon.Dispose();
            netns.Dispose();
            Directory.Delete(Path.GetDirectoryName(netns.Path)!, recursive: true);
        }
    }
}

/// <summary>A private dockerd 20.10 in a network namespace of its own (bridges, but no iptables), with the same address pool.</summary>
public sealed class NetnsDockerd : PrivateDockerd
{
    readonly TestNetns? _netns;

    public NetnsDockerd() : this(Tools.IsRoot ? new TestNetns(Directory.CreateTempSubdirectory("dockerd-net-").FullName) : null) { }

    NetnsDockerd(TestNetns? netns) : base(netns?.Path, TestPools.Flags) => _netns = netns;

    public TestNetns? Netns => _netns;

    public override void Dispose()
    {
        base.Dispose();
        if (_netns is null) return;
        _netns.Dispose();
        Directory.Delete(Path.GetDirectoryName(_netns.Path)!, recursive: true);
    }
}

/// <summary>
/// User-defined bridge networks with the real docker CLI against berthd and a private dockerd 20.10, each in a network
/// namespace the test made (subnets from 198.18.0.0/15): network create/ls/inspect/rm and their refusals, containers on
/// the networks (their address, MAC, routes, /etc/hosts and resolv.conf seen from inside, inspect's view, one
/// container reaching another, a wanted address, an IP range), and what stopping and removing leaves. Ids, times and
/// paths are put in words before the comparison, line by line.
/// </summary>
public sealed class NetworkComparisonTests(NetnsBerthd berthd, NetnsDockerd dockerd, Xunit.Abstractions.ITestOutputHelper output)
    : IClassFixture<NetnsBerthd>, IClassFixture<NetnsDockerd>
{
    sealed record Engine(string Name, Func<string[], ProcessResult> Docker, TestNetns Netns);

    [SkippableFact]
    public void NetworksAreManagedAndUsedAsDockerdDoes()
    {
        dockerd.SkipUnlessAvailable();
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "load", "-i", Path.Combine(dockerd.Root, "image", "bb.tar")));
        var theirs = Session(new Engine("dockerd", dockerd.Docker, dockerd.Netns!));
        var ours = Session(new Engine("berthd", args => DockerCli.Docker(berthd.Daemon, args), berthd.Netns));
        foreach (string line in ours) output.WriteLine(line);
        Assert.Equal(theirs.Count, ours.Count);
        var differences = Enumerable.Range(0, theirs.Count).Where(i => theirs[i] != ours[i])
            .Select(i => $"dockerd: {theirs[i]}\nberthd:  {ours[i]}").ToList();
        Assert.True(differences.Count == 0, string.Join("\n\n", differences));

        // Where berthd differs on purpose: a name nobody knows, with no resolver reachable, is answered SERVFAIL at once
        // (dockerd 20.10 lets the client time out).
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "network", "create", "--subnet", "198.18.6.0/24", "dn1"));
        var unknown = DockerCli.Docker(berthd.Daemon, "run", "--rm", "--network", "dn1", "bb", "nslookup", "nosuchname");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("** server can't find nosuchname: SERVFAIL", unknown.Stdout + unknown.Stderr);
        // dockerd 20.10 calls every user-defined network dangling, even with containers on it.
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "network", "create", "--subnet", "198.18.7.0/24", "dn2"));
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "run", "-d", "--name", "dangling-user", "--network", "dn1", "bb", "sleep", "600"));
        Assert.Equal("dn2\n", DockerCli.Docker(berthd.Daemon, "network", "ls", "--filter", "dangling=true", "--filter", "name=dn", "--format", "{{.Name}}").Stdout);
        Assert.Equal("dn1\n", DockerCli.Docker(berthd.Daemon, "network", "ls", "--filter", "dangling=false", "--filter", "name=dn", "--format", "{{.Name}}").Stdout);
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "rm", "-f", "dangling-user"));
        Assert.Equal("Deleted Networks:\ndn1\ndn2\n\n", DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "network", "prune", "-f")).Stdout);

        // From outside: berthd's namespace holds only its loopback again, and no namespace file is left.
        Assert.Equal(["lo"], berthd.Netns.Links());
        var netnsDir = Path.Combine(berthd.Daemon.ExecRoot, "netns");
        Assert.True(!Directory.Exists(netnsDir) || Directory.GetFiles(netnsDir).Length == 0, string.Join(", ", Directory.GetFiles(netnsDir)));
        Assert.DoesNotContain(netnsDir, File.ReadAllText("/proc/self/mountinfo"));
    }

    static List<string> Session(Engine engine)
    {
        var log = new List<string>();
        var ids = new Dictionary<string, string>();
        string Words(string text)
        {
            text = Regex.Replace(text, "[0-9a-f]{64}", m => ids.TryGetValue(m.Value, out var w) ? w : ids[m.Value] = $"<id{ids.Count}>");
            text = Regex.Replace(text, @"\b[0-9a-f]{12}\b", m => ids.Keys.FirstOrDefault(k => k.StartsWith(m.Value, StringComparison.Ordinal)) is { } full ? ids[full] + "-short" : m.Value);
            text = Regex.Replace(text, @"(?m)^\d+: (eth0|lo) ", "N: $1 "); // dockerd moves a veth in; berthd makes it inside
            text = Regex.Replace(text, @"time=[\d.]+ ms", "time=T ms");
            // busybox nslookup asks A and AAAA at once and prints the answers as they come.
            text = Regex.Replace(text.Replace("Non-authoritative answer:", ""), @"\n{2,}", "\n");
            text = Regex.Replace(text, @"round-trip min/avg/max = [\d./]+ ms", "round-trip T ms");
            return Regex.Replace(text, @"\d{4}-\d\d-\d\dT[\d:.]+Z", "<time>");
        }
        ProcessResult Step(params string[] args)
        {
            var r = engine.Docker(args);
            string printed = string.Join('\n', (r.Stdout + r.Stderr).Split('\n').Where(l => !l.StartsWith("time=", StringComparison.Ordinal)));
            log.Add($"{string.Join(' ', args)} => {r.ExitCode} {Words(printed).Trim()}");
            return r;
        }
        void Sorted(params string[] args)
        {
            var r = engine.Docker(args);
            log.Add($"{string.Join(' ', args)} => {r.ExitCode} {string.Join(" | ", Words(r.Stdout + r.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal))}");
        }

        Step("network", "create", "--subnet", "198.18.1.0/24", "--label", "a=b", "tn1");
        Step("network", "create", "--subnet", "198.18.2.0/24", "--gateway", "198.18.2.254", "--ip-range", "198.18.2.128/25", "tn2");
        Step("network", "create", "tn3");
        Step("network", "create", "-o", "com.docker.network.bridge.name=tn4br", "--subnet", "198.18.4.77/24", "tn4");
        // Refusals, with dockerd's sentences.
        Step("network", "create", "tn1");
        Step("network", "create", "--subnet", "198.18.1.128/25", "tn5");
        Step("network", "create", "-d", "nosuchdriver", "tn5");
        Step("network", "create", "-d", "host", "tn5");
        Step("network", "inspect", "nosuch");
        Step("network", "rm", "none");
        Step("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}");
        Step("network", "ls", "--filter", "label=a=b", "--format", "{{.Name}}");
        Step("network", "ls", "--filter", "type=custom", "--filter", "name=tn", "-q");
        Step("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{json .IPAM}} {{json .Options}} {{json .Labels}} {{.Internal}} {{.Attachable}}", "tn1", "tn2", "tn3", "tn4");
        Step("network", "inspect", "none", "host", "-f", "{{.Name}} {{.Driver}} {{json .IPAM}}");

        // Containers on them.
        Step("run", "-d", "--name", "na1", "--network", "tn1", "bb", "sleep", "600");
        Step("run", "-d", "--name", "na2", "--network", "tn1", "--network-alias", "web", "--ip", "198.18.1.50", "--hostname", "h2", "--domainname", "example.test", "bb", "sleep", "600");
        Step("inspect", "-f", "{{json .NetworkSettings.Networks}} {{.NetworkSettings.IPAddress}} {{.HostConfig.NetworkMode}}", "na1");
        Step("inspect", "-f", "{{json .NetworkSettings.Networks}}", "na2");
        Step("exec", "na1", "sh", "-c", "cat /etc/hosts /etc/resolv.conf; ip -o -4 addr; ip route; cat /sys/class/net/eth0/address");
        Step("exec", "na2", "sh", "-c", "tail -1 /etc/hosts; cat /etc/hostname");
        Step("exec", "na1", "ping", "-c", "1", "-W", "5", "198.18.1.50");
        Step("exec", "na1", "ping", "-c", "1", "-W", "5", "198.18.1.1");
        Sorted("network", "inspect", "tn1", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}} {{.IPv6Address}}\n{{end}}");
        Step("run", "--rm", "--network", "tn1", "--ip", "198.18.1.50", "bb", "true");
        Step("run", "--rm", "--network", "tn1", "--ip", "198.18.9.5", "bb", "true");
        Step("run", "--rm", "--network", "tn3", "--ip", "198.18.128.9", "bb", "true");
        Step("run", "--rm", "--network", "nosuch", "bb", "true");
        Step("run", "--rm", "--network", "tn2", "bb", "sh", "-c", "ip -o -4 addr show eth0; ip route");
        Step("run", "--rm", "--network", "tn3", "bb", "sh", "-c", "ip -o -4 addr show eth0; ip route");
        Step("run", "--rm", "--network", "tn4", "bb", "sh", "-c", "ip -o -4 addr show eth0; ip route");
        // Names through the embedded DNS server at 127.0.0.11: a container's name, an alias, the hostname, name.network, an address.
        Step("exec", "na1", "ping", "-c", "1", "-W", "5", "na2");
        Step("exec", "na1", "ping", "-c", "1", "-W", "5", "web");
        Step("exec", "na1", "nslookup", "h2");
        Step("exec", "na1", "nslookup", "na2.tn1");
        Step("exec", "na2", "nslookup", "198.18.1.2");
        // Published ports, served from the daemon's namespace (a proxy per binding, 0.0.0.0 and [::] for -p PORT:PORT).
        Step("run", "-d", "--name", "np", "--network", "tn1", "-p", "8080:80", "-p", "127.0.0.1::81/udp", "--expose", "90", "bb",
            "sh", "-c", "mkdir /w && echo hello from np > /w/index.html && exec httpd -f -p 80 -h /w");
        Step("inspect", "-f", "{{json .NetworkSettings.Ports}}", "np");
        Step("port", "np");
        Step("ps", "--filter", "name=np", "--format", "{{.Ports}}");
        // httpd starts a moment after `run -d` returns: up to 5 s of tries.
        ProcessResult fetch = engine.Netns.Run("curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/");
        for (int attempt = 0; attempt < 50 && fetch.ExitCode != 0; attempt++)
        {
            Thread.Sleep(100);
            fetch = engine.Netns.Run("curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/");
        }
        log.Add($"curl 127.0.0.1:8080 in the daemon's namespace => {fetch.ExitCode} {fetch.Stdout.Trim()}");
        Step("run", "--rm", "--name", "np-taken", "--network", "tn1", "-p", "8080:80", "bb", "true");
        Step("stop", "-t", "0", "np");
        Step("inspect", "-f", "{{json .NetworkSettings.Ports}}", "np");
        Step("rm", "np");
        Step("network", "rm", "tn1");
        Step("stop", "-t", "0", "na1");
        Step("inspect", "-f", "{{json .NetworkSettings.Networks}}", "na1");
        Step("start", "na1");
        Step("exec", "na1", "sh", "-c", "ip -o -4 addr show eth0");
        Step("rm", "-f", "na1", "na2");
        Step("network", "rm", "tn1", "tn2", "tn3", "tn4");
        Step("network", "ls", "--format", "{{.Name}}");
        return log;
    }
}
