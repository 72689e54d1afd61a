using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>
/// Containers on a user-defined network across a berthd restart (live-restore), and what failed starts and hostile
/// network options leave: each test runs its own berthd in a network namespace it made.
/// </summary>
public sealed class NetworkRestoreTests : IDisposable
{
    const string Image = "ntest/bb:1";
    readonly string _root;
    readonly TestNetns _netns;
    DaemonInstance _daemon;

    public NetworkRestoreTests()
    {
        Skip.IfNot(Tools.IsRoot, "network tests run as root (integration section of scripts/test.sh)");
        Skip.IfNot(File.Exists("/bin/busybox"), "busybox-static is not installed (apt-get install busybox-static)");
        _root = Directory.CreateTempSubdirectory("berthd-netrestore-").FullName;
        _netns = new TestNetns(_root);
        _daemon = Start();
        BusyboxLayer.LoadImage(_daemon, Image, _root);
    }

    DaemonInstance Start() => DaemonInstance.StartIn(_netns.Path, Path.Combine(_root, "berthd"), [.. ContainerDaemon.ExtraArgs]);

    ProcessResult Docker(params string[] args) => DockerCli.Docker(_daemon, args);

    string Ok(params string[] args) => DockerCli.Ok(Docker(args)).Stdout.Trim();

    string NetnsDir => Path.Combine(_daemon.ExecRoot, "netns");

    string[] NetnsFiles() => Directory.Exists(NetnsDir) ? [.. Directory.GetFiles(NetnsDir).Select(Path.GetFileName).Order()!] : [];

    string Fetch(int port)
    {
        ProcessResult r = _netns.Run("curl", "-sS", "--max-time", "5", $"http://127.0.0.1:{port}/");
        for (int attempt = 0; attempt < 50 && r.ExitCode != 0; attempt++)
        {
            Thread.Sleep(100);
            r = _netns.Run("curl", "-sS", "--max-time", "5", $"http://127.0.0.1:{port}/");
        }
        return $"{r.ExitCode} {r.Stdout.Trim()}";
    }

    // The image has a few applets linked (BusyboxLayer); the others are run as `busybox APPLET`.
    [SkippableFact]
    public void RunningContainersKeepTheirAddressNamesAndPortsThroughARestart()
    {
        Ok("network", "create", "--subnet", "198.18.20.0/24", "rn");
        Ok("run", "-d", "--name", "r1", "--network", "rn", "-p", "8090:80", Image, "sh", "-c", "busybox mkdir /w && echo from r1 > /w/index.html && exec busybox httpd -f -p 80 -h /w");
        Ok("run", "-d", "--name", "r2", "--network", "rn", Image, "sleep", "600");
        Ok("run", "-d", "--name", "r3", "--network", "rn", Image, "sleep", "600");
        Assert.Equal("0 from r1", Fetch(8090));
        int r3 = int.Parse(Ok("inspect", "-f", "{{.State.Pid}}", "r3"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(3, NetnsFiles().Length);

        // berthd stops (its containers run on); r3 dies while it is down.
        Assert.Equal(0, _daemon.Terminate(TimeSpan.FromSeconds(30)));
        _daemon.Dispose();
        Assert.Equal(0, Berth.Linux.Libc.kill(r3, 9));
        _daemon = Start();

        Assert.Equal("198.18.20.2", Ok("inspect", "-f", "{{.NetworkSettings.Networks.rn.IPAddress}}", "r1"));
        Assert.Contains("Address: 198.18.20.2", Ok("exec", "r2", "busybox", "nslookup", "r1"));
        Assert.Equal("0 from r1", Fetch(8090));
        Assert.Equal("exited", Ok("inspect", "-f", "{{.State.Status}}", "r3"));
        // r3's namespace went with it, and its address is free again; r1's and r2's stay taken.
        Assert.Equal(2, NetnsFiles().Length);
        Ok("run", "-d", "--name", "r4", "--network", "rn", Image, "sleep", "600");
        Assert.Equal("198.18.20.4", Ok("inspect", "-f", "{{.NetworkSettings.Networks.rn.IPAddress}}", "r4"));
        DockerCli.Fails(Docker("run", "--rm", "--network", "rn", "-p", "8090:80", Image, "true"), "Bind for 0.0.0.0:8090 failed: port is already allocated");

        Ok("rm", "-f", "r1", "r2", "r3", "r4");
        Assert.Empty(NetnsFiles());
        Assert.StartsWith("7 ", Fetch(8090)); // curl: connection refused
        Ok("network", "rm", "rn");
        Assert.Equal(["lo"], _netns.Links());
    }

    [SkippableFact]
    public void FailedStartsAndHostileOptionsLeaveNothingBehind()
    {
        Ok("network", "create", "--subnet", "198.18.21.0/24", "fn");
        var links = _netns.Links();
        Ok("run", "-d", "--name", "f1", "--network", "fn", "--ip", "198.18.21.9", Image, "sleep", "600");
        // Each start fails after the network part began: the address, a taken port, a program that is not there.
        DockerCli.Fails(Docker("run", "--rm", "--network", "fn", "--ip", "198.18.21.9", Image, "true"), "Address already in use");
        Ok("run", "-d", "--name", "f2", "--network", "fn", "-p", "8091:80", Image, "sleep", "600");
        DockerCli.Fails(Docker("run", "--rm", "--network", "fn", "-p", "8091:80", Image, "true"), "port is already allocated");
        DockerCli.Fails(Docker("run", "--rm", "--network", "fn", Image, "/no/such/program"), "No such file or directory");
        Assert.Equal(2, NetnsFiles().Length);
        Assert.Equal(links.Count + 2, _netns.Links().Count); // f1's and f2's host ends
        // No address was kept by the failures: the next container gets the lowest free one.
        Ok("run", "-d", "--name", "f3", "--network", "fn", Image, "sleep", "600");
        Assert.Equal("198.18.21.3", Ok("inspect", "-f", "{{.NetworkSettings.Networks.fn.IPAddress}}", "f3"));

        // A bridge name that is another link's (the namespace's loopback), or not a link name at all, is refused and
        // leaves that link alone.
        DockerCli.Fails(Docker("network", "create", "-o", "com.docker.network.bridge.name=lo", "hostile1"), "cannot make the bridge lo of network hostile1");
        DockerCli.Fails(Docker("network", "create", "-o", "com.docker.network.bridge.name=../../x", "hostile2"), "invalid bridge name");
        DockerCli.Fails(Docker("network", "create", "-o", "com.docker.network.bridge.name=abcdefghijklmnopq", "hostile3"), "invalid bridge name");
        DockerCli.Fails(Docker("network", "create", "-o", "com.docker.network.driver.mtu=9000", "hostile4"), "network option \"com.docker.network.driver.mtu\" is not supported");
        DockerCli.Fails(Docker("network", "create", "--internal", "hostile5"), "Internal is not supported");
        Assert.Contains("lo", _netns.Links());
        Assert.Contains("state UNKNOWN", _netns.Run("ip", "link", "show", "lo").Stdout);
        Assert.Equal("", Ok("network", "ls", "-q", "--filter", "name=hostile"));

        Ok("rm", "-f", "f1", "f2", "f3");
        Ok("network", "rm", "fn");
        Assert.Empty(NetnsFiles());
        Assert.Equal(["lo"], _netns.Links());
    }

    // A network's bridge deleted while berthd was down, and its name taken by another link: berthd must not adopt that
    // link (give it the gateway's address) nor delete it with the network.
    [SkippableFact]
    public void ABridgeNameTakenByAnotherLinkMeanwhileIsLeftAlone()
    {
        Ok("network", "create", "--subnet", "198.18.24.0/24", "-o", "com.docker.network.bridge.name=takenbr", "tn");
        Assert.Equal(0, _daemon.Terminate(TimeSpan.FromSeconds(30)));
        _daemon.Dispose();
        Assert.Equal(0, _netns.Run("ip", "link", "del", "takenbr").ExitCode);
        Assert.Equal(0, _netns.Run("ip", "link", "add", "takenbr", "type", "veth", "peer", "name", "takenpeer").ExitCode);
        _daemon = Start();
        Assert.Contains("it is not berthd's, and berthd leaves it alone", _daemon.LogContaining("leaves it alone", TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain("198.18.24.1", _netns.Run("ip", "-o", "addr", "show", "takenbr").Stdout);
        Ok("network", "rm", "tn");
        Assert.Contains("takenbr", _netns.Links());
        Assert.Equal(0, _netns.Run("ip", "link", "del", "takenbr").ExitCode);
    }

    // docker-compose 1.29 disconnects and connects every new container to set its aliases (ComposeTests runs it).
    [SkippableFact]
    public void ConnectAndDisconnectWorkOnAContainerThatIsNotRunningAndAreRefusedOtherwise()
    {
        Ok("network", "create", "--subnet", "198.18.22.0/24", "cn");
        Ok("network", "create", "--subnet", "198.18.23.0/24", "other");
        Ok("create", "--name", "c1", "--network", "cn", Image, "sleep", "600");
        Ok("network", "disconnect", "cn", "c1");
        Assert.Equal("{}", Ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "c1"));
        DockerCli.Fails(Docker("network", "disconnect", "cn", "c1"), "is not connected to network cn");
        DockerCli.Fails(Docker("start", "c1"), "container c1 was disconnected from network cn: connect it again (docker network connect) before starting it");
        Assert.Empty(NetnsFiles());
        Ok("network", "connect", "--alias", "svc", "--ip", "198.18.22.40", "cn", "c1");
        DockerCli.Fails(Docker("network", "connect", "cn", "c1"), "endpoint with name c1 already exists in network cn");
        DockerCli.Fails(Docker("network", "connect", "other", "c1"), "connecting container c1 to network other is not implemented yet");
        Ok("start", "c1");
        Assert.Equal("198.18.22.40 [\"svc\",", Ok("inspect", "-f", "{{.NetworkSettings.Networks.cn.IPAddress}} {{json .NetworkSettings.Networks.cn.Aliases}}", "c1")[..20]);
        DockerCli.Fails(Docker("network", "disconnect", "cn", "c1"), "docker network disconnect of a running container is not implemented yet: stop container c1 first");
        Ok("rm", "-f", "c1");
        Ok("network", "rm", "cn", "other");
        Assert.Equal(["lo"], _netns.Links());
    }

    // A test that failed between stopping berthd and starting it again leaves a disposed daemon here: the namespace and
    // the directory are removed whatever the daemon's state (a run once left the namespace mounted that way).
    public void Dispose()
    {
        try
        {
            if (!_daemon.Process.HasExited)
            {
                var left = Docker("ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (left.Length > 0) Docker(["rm", "-f", .. left]);
            }
            _daemon.Dispose();
        }
        catch (InvalidOperationException)
        {
            // Disposed already.
        }
        finally
        {
            _netns.Dispose();
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
        }
    }
}
