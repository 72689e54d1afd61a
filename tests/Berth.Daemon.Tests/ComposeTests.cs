using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>
/// Debian's docker-compose (1.29, docker-py) against berthd in a network namespace the test made: a project of two
/// services on the project's network, one publishing a port; up, ps, exec, the services finding each other by name
/// through the embedded DNS server, the port reached through the proxy, and down leaving nothing.
/// </summary>
public sealed class ComposeTests : IDisposable
{
    const string Image = "ctest/compose-bb:1";
    readonly string _root;
    readonly TestNetns? _netns;
    readonly DaemonInstance? _daemon;

    public ComposeTests()
    {
        _root = Directory.CreateTempSubdirectory("berthd-compose-").FullName;
        if (!Tools.IsRoot || Tools.Which("docker-compose") is null || !File.Exists("/bin/busybox")) return;
        _netns = new TestNetns(_root);
        _daemon = DaemonInstance.StartIn(_netns.Path, Path.Combine(_root, "berthd"),
            [.. ContainerDaemon.ExtraArgs, "--default-address-pool", "base=198.18.128.0/17,size=24"]);
        BusyboxLayer.LoadImage(_daemon, Image, _root);
    }

    ProcessResult Compose(params string[] args) => Tools.Run("docker-compose", ["-f", Path.Combine(_root, "docker-compose.yml"), "-p", "bcp", .. args],
        new Dictionary<string, string> { ["DOCKER_HOST"] = _daemon!.Host, ["DOCKER_CONFIG"] = Path.Combine(_root, "cli") }, timeoutSeconds: 180);

    static string Ok(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }

    [SkippableFact]
    public void AProjectComesUpFindsItsServicesByNameAndGoesAway()
    {
        Skip.IfNot(Tools.IsRoot, "compose tests run as root (integration section of scripts/test.sh)");
        Skip.If(Tools.Which("docker-compose") is null, "docker-compose is not installed (apt-get install docker-compose)");
        Skip.IfNot(File.Exists("/bin/busybox"), "busybox-static is not installed (apt-get install busybox-static)");
        File.WriteAllText(Path.Combine(_root, "docker-compose.yml"), $$"""
            version: "3"
            services:
              web:
                image: {{Image}}
                command: ["sh", "-c", "busybox mkdir /w && echo hello from web > /w/index.html && exec busybox httpd -f -p 80 -h /w"]
                ports: ["8087:80"]
              client:
                image: {{Image}}
                command: ["sleep", "600"]
                depends_on: [web]
            """);
        Ok(Compose("up", "-d"));
        var ps = Ok(Compose("ps"));
        Assert.Matches(@"bcp_web_1 .* Up .*0\.0\.0\.0:8087->80/tcp", ps);
        Assert.Matches(@"bcp_client_1 .* Up", ps);
        // The client finds the web service by its service name and by its container name, and fetches its page.
        string fetch = "for i in $(busybox seq 50); do busybox wget -q -O /tmp/page http://web/ && break; busybox sleep 0.1; done; cat /tmp/page";
        Assert.Equal("hello from web\n", Ok(Compose("exec", "-T", "client", "sh", "-c", fetch)));
        var lookup = Ok(Compose("exec", "-T", "client", "busybox", "nslookup", "bcp_web_1"));
        Assert.Contains("Address: 198.18.128.2", lookup);
        // From berthd's namespace, through the published port.
        var curl = _netns!.Run("curl", "-sS", "--max-time", "5", "--retry", "20", "--retry-connrefused", "--retry-delay", "0", "http://127.0.0.1:8087/");
        Assert.Equal("hello from web\n", curl.Stdout);
        var inspect = Ok(DockerCli.Docker(_daemon!, "network", "inspect", "bcp_default", "-f", "{{json .Labels}}"));
        Assert.Contains("\"com.docker.compose.network\":\"default\"", inspect);

        Ok(Compose("down"));
        Assert.Equal("", DockerCli.Docker(_daemon!, "ps", "-aq").Stdout);
        Assert.Equal("", DockerCli.Docker(_daemon!, "network", "ls", "-q", "--filter", "type=custom").Stdout);
        Assert.Equal(["lo"], _netns.Links());
    }

    public void Dispose()
    {
        try
        {
            if (_daemon is not null)
            {
                var left = DockerCli.Docker(_daemon, "ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (left.Length > 0) DockerCli.Docker(_daemon, ["rm", "-f", .. left]);
            }
        }
        finally
        {
            _daemon?.Dispose();
            _netns?.Dispose();
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
        }
    }
}
