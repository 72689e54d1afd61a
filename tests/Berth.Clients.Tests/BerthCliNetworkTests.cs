using System.Text.RegularExpressions;
using Berth.Clients.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Clients.Tests;

/// <summary>
/// berth's network verbs, -p/-P/--expose/--ip/--network-alias/--domainname and <c>berth port</c> against a private dockerd
/// 20.10 in a network namespace the fixture made (its bridges stay in there; subnets from 198.18.0.0/15). The same session
/// runs with <c>docker -H</c> and then with <c>berth -H</c>, each cleaning up after itself, and the two transcripts are
/// compared line by line with ids, times and ephemeral ports put in words.
/// </summary>
public sealed class BerthCliNetworkTests(NetnsDockerEnvironment docker, ITestOutputHelper output) : IClassFixture<NetnsDockerEnvironment>
{
    private const string Image = DockerEnvironment.Image;

    private ToolResult Cli(string client, params string[] arguments) => client == "berth"
        ? Tool.Run(docker.Scratch.Path, BerthCli.Path, ["--host", "unix://" + docker.Socket, .. arguments], null, output.WriteLine)
        : docker.Docker(output, arguments);

    private void Start()
    {
        docker.EnsureStarted(output);
        BerthCli.EnsureExists();
    }

    [SkippableFact]
    public void NetworkVerbsAndPublishedPortsAnswerAsDockerDoes()
    {
        Start();
        var theirs = Session("docker");
        var ours = Session("berth");
        foreach (var line in ours) output.WriteLine("berth: " + line);
        Assert.Equal(theirs.Count, ours.Count);
        var differences = Enumerable.Range(0, theirs.Count).Where(i => theirs[i] != ours[i]).Select(i => $"docker: {theirs[i]}\nberth:  {ours[i]}").ToList();
        Assert.True(differences.Count == 0, string.Join("\n\n", differences));
        // What the session is meant to show, on the reference.
        Assert.Contains(theirs, l => l.StartsWith("port bcn-c => 0 [80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n81/udp -> 127.0.0.1:<ephemeral>\n]", StringComparison.Ordinal));
        Assert.Contains(theirs, l => l.StartsWith("network rm bcn1 bcnmissing bcn2 => 1 [bcn1\nbcn2\n] [Error response from daemon: network bcnmissing not found\n]", StringComparison.Ordinal));
        Assert.Equal(docker.HostLinksBefore, DockerEnvironment.HostLinks());
    }

    private List<string> Session(string client)
    {
        var log = new List<string>();
        var ids = new Dictionary<string, string>();
        string Words(string text)
        {
            text = Regex.Replace(text, "[0-9a-f]{64}", m => ids.TryGetValue(m.Value, out var w) ? w : ids[m.Value] = $"<id{ids.Count}>");
            text = Regex.Replace(text, @"\b[0-9a-f]{12}\b", m => ids.Keys.FirstOrDefault(k => k.StartsWith(m.Value, StringComparison.Ordinal)) is { } full ? ids[full] + "-short" : "<short id>");
            text = Regex.Replace(text, @"\d{4}-\d\d-\d\dT[\d:.]+Z", "<rfc3339>");
            text = Regex.Replace(text, @"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC", "<go time>");
            // Subnets from the pool: dockerd does not hand a freed one out again at once.
            text = Regex.Replace(text, @"198\.18\.(1[3-9]\d|12[89]|2[0-5]\d)\.", "198.18.<pool>.");
            return Regex.Replace(text, @":(3[2-9]|[4-5]\d|6[0-1])\d{3}\b", ":<ephemeral>");
        }
        void Step(params string[] args)
        {
            var r = Cli(client, args);
            // docker 28 ends network rm's errors with a line "exit status 1" (an empty cli.StatusError): berth leaves it out.
            var stderr = string.Join('\n', r.Stderr.Split('\n').Where(l => l != "exit status 1").Select(l => l.Replace("docker: ", "berth: ")));
            log.Add($"{string.Join(' ', args)} => {r.ExitCode} [{Words(r.Stdout)}] [{Words(stderr)}]");
        }
        const string format = "{{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}} {{json .NetworkSettings.Networks.bcn1.IPAMConfig}} " +
            "{{json .NetworkSettings.Networks.bcn1.Aliases}} {{.Config.Domainname}}";
        try
        {
            Step("network", "create", "--subnet", "198.18.1.0/24", "--gateway", "198.18.1.1", "--ip-range", "198.18.1.128/25", "--label", "a=b",
                "-o", "com.docker.network.bridge.name=bcn1br", "bcn1");
            Step("network", "create", "--label", "prune=me", "bcn2");
            Step("network", "create", "-d", "bridge", "--ipam-driver", "default", "--attachable", "bcn10");
            Step("network", "create", "--gateway", "198.18.9.1", "bcnbad");
            Step("network", "create", "--subnet", "198.18.9.0/24", "--ip-range", "198.18.8.0/25", "bcnbad");
            Step("network", "create", "--subnet", "198.18.9.0/24", "--subnet", "198.18.9.0/25", "bcnbad");
            Step("network", "create", "--subnet", "198.18.1.0/24", "bcnbad");
            Step("network", "ls", "--filter", "name=bcn", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv6}} {{.IPv4}} {{.Labels}}");
            Step("network", "ls", "--filter", "name=bcn");
            Step("network", "list", "-f", "label=a=b", "-q");
            Step("network", "ls", "-f", "name=bcn1", "--no-trunc", "--format", "table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}");
            Step("network", "ls", "-f", "name=bcn", "--format", "json");
            Step("network", "ls", "-f", "bogus=1");
            Step("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{json .IPAM.Config}} {{.Options}} {{.Attachable}}", "bcn1", "bcn10");
            Step("network", "inspect", "bcn2", "bcnmissing");
            Step("network", "inspect", "--format", "{{.Name}}", "bcnmissing", "bcn1");
            // The top-level inspect finds networks too, after containers and images.
            Step("inspect", "-f", "{{.Name}} {{.Driver}}", "bcn1");
            Step("inspect", "--type", "network", "-f", "{{.Name}}", "bcn1", "bcnmissing");
            Step("run", "-d", "--name", "bcn-c", "--network", "bcn1", "-p", "8080:80", "-p", "127.0.0.1::81/udp", "--expose", "90",
                "--ip", "198.18.1.200", "--network-alias", "bcn-alias", "--domainname", "example.org", Image, "sleep", "600");
            Step("inspect", "-f", format, "bcn-c");
            Step("port", "bcn-c");
            Step("port", "bcn-c", "80");
            Step("container", "port", "bcn-c", "81/udp");
            Step("port", "bcn-c", "81");
            Step("port", "bcn-c", "90");
            Step("port", "bcn-c", "abc");
            Step("port", "bcnmissing");
            Step("create", "--name", "bcn-p", "--network", "bcn10", "-P", "--expose", "7000-7001/udp", "-p", "9000-9001:90-91", Image, "true");
            Step("inspect", "-f", "{{json .HostConfig.PublishAllPorts}} {{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}}", "bcn-p");
            Step("network", "rm", "bcn1");
            Step("rm", "-f", "bcn-c", "bcn-p");
            Step("network", "rm", "bcn1", "bcnmissing", "bcn2");
            Step("network", "rm", "-f", "bcnmissing");
            Step("network", "prune", "-f", "--filter", "label=nothing=here");
            Step("network", "prune", "-f");
            Step("network", "ls", "-f", "name=bcn");
        }
        finally
        {
            Cli("docker", "rm", "-f", "bcn-c", "bcn-p");
            Cli("docker", "network", "rm", "bcn1", "bcn2", "bcn10");
        }
        return log;
    }

    [SkippableFact]
    public void BadPortFlagsAreRefusedAsDockerRefusesThem()
    {
        Start();
        string[][] scenarios =
        [
            ["-p", "abc"], ["-p", "70000"], ["-p", "80/sctpx"], ["-p", "1.2.3:80:80"], ["-p", "8000-8002:80-81"], ["-p", "8080:"],
            ["-p", "80-79"], ["--expose", "100-99"], ["--expose", "/udp"], ["--expose", "70000"], ["--expose", "bogus"],
            ["--network-alias", "x"], ["--network", "none", "--network-alias", "x"],
        ];
        foreach (var flags in scenarios)
        {
            var reference = Cli("docker", ["create", .. flags, Image, "true"]);
            var berth = Cli("berth", ["create", .. flags, Image, "true"]);
            Assert.Equal(125, reference.ExitCode);
            Assert.Equal((reference.ExitCode, reference.Stderr.Split('\n')[0].Replace("docker: ", "berth: ")), (berth.ExitCode, berth.Stderr.Split('\n')[0]));
        }
        Assert.Equal("", Cli("docker", "ps", "-aq").Stdout);
    }
}
