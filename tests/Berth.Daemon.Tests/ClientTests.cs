using System.Text.Json;
using System.Text.RegularExpressions;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>The real docker CLI (28, API 1.50) and berth against berthd.</summary>
public class ClientTests(SharedDaemon shared) : IClassFixture<SharedDaemon>
{
    DaemonInstance Daemon => shared.Daemon;

    string ServerVersion => JsonDocument.Parse(Tools.Curl(Daemon.Socket, "http://berth/version").Stdout).RootElement.GetProperty("Version").GetString()!;

    ProcessResult Docker(params string[] args)
    {
        Skip.If(Tools.Which("docker") is null, "the docker CLI is not installed (apt-get install docker.io)");
        // A private config dir: no user contexts or credential helpers leak in.
        return Tools.Run("docker", ["-H", Daemon.Host, .. args], new Dictionary<string, string> { ["DOCKER_CONFIG"] = Path.Combine(Daemon.Root, "docker-config") });
    }

    ProcessResult Berth(params string[] args) => Tools.Run(Tools.Berth, args, new Dictionary<string, string> { ["BERTH_HOST"] = Daemon.Host });

    [SkippableFact]
    public void Docker_version_negotiates_down_and_shows_our_server()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var result = Docker("version");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"API version:\s+1\.41 \(downgraded from 1\.5[0-9]\)", result.Stdout);
        string server = result.Stdout[result.Stdout.IndexOf("Server:", StringComparison.Ordinal)..];
        Assert.Matches($@"Engine:\s+Version:\s+{Regex.Escape(ServerVersion)}\s", server);
        Assert.Matches(@"API version:\s+1\.41 \(minimum version 1\.24\)", server);
        Assert.Matches(@"Go version:\s+\.NET ", server);
    }

    [SkippableFact]
    public void Docker_info_shows_our_values()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var result = Docker("info");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"Server Version: {ServerVersion}", result.Stdout);
        Assert.Contains("Storage Driver: overlayfs", result.Stdout);
        Assert.Contains($"Docker Root Dir: {Daemon.DataRoot}", result.Stdout);
        // The in-process exec driver, berthd's default without --default-runtime.
        Assert.Contains("Default Runtime: berth\n", result.Stdout);
        Assert.Matches(@"Cgroup Version: [12]", result.Stdout);
    }

    [SkippableFact]
    public void Docker_image_verbs_get_dockers_answers()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var images = Docker("images");
        Assert.True(images.ExitCode == 0, images.ToString());
        Assert.Matches(@"^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s*$", images.Stdout);
        var inspect = Docker("image", "inspect", "nope");
        Assert.Equal(1, inspect.ExitCode);
        Assert.Contains("Error response from daemon: No such image: nope", inspect.Stderr);
        var rmi = Docker("rmi", "localhost:5000/a/b:tag");
        Assert.Equal(1, rmi.ExitCode);
        Assert.Contains("No such image: localhost:5000/a/b:tag", rmi.Stderr);
        // Nothing listens on port 1: the daemon's error, before any progress, is the CLI's message.
        var pull = Docker("pull", "127.0.0.1:1/busybox");
        Assert.Equal(1, pull.ExitCode);
        Assert.Contains("Error response from daemon: ", pull.Stderr);
        Assert.Contains("127.0.0.1:1", pull.Stderr);
    }

    [SkippableFact]
    public void Berth_version_shows_client_and_server()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var result = Berth("version");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("Client:\n", result.Stdout);
        Assert.Matches(@"Client:\n Version:\s+\d+\.\d+\.\d+", result.Stdout);
        Assert.Contains($"Host:              {Daemon.Host}", result.Stdout);
        string server = result.Stdout[result.Stdout.IndexOf("Server:", StringComparison.Ordinal)..];
        Assert.Matches($@"Engine:\n  Version:\s+{Regex.Escape(ServerVersion)}\n  API version:\s+1\.41 \(minimum version 1\.24\)", server);
    }

    [SkippableFact]
    public void Berth_info_shows_the_daemon()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var result = Tools.Run(Tools.Berth, ["-H", Daemon.Host, "info"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"Berth Root Dir: {Daemon.DataRoot}", result.Stdout);
        Assert.Contains(" Images: 0\n", result.Stdout);
        Assert.Contains($" ID: {File.ReadAllText(Path.Combine(Daemon.DataRoot, "engine-id")).Trim()}\n", result.Stdout);
    }

    [SkippableFact]
    public void Berth_image_errors_are_dockers()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var images = Berth("images");
        Assert.Equal(0, images.ExitCode);
        Assert.Equal("REPOSITORY   TAG   IMAGE ID   CREATED   SIZE\n", images.Stdout);
        var inspect = Berth("image", "inspect", "nope");
        Assert.Equal(1, inspect.ExitCode);
        Assert.Equal("[]\n", inspect.Stdout);
        Assert.Equal("Error response from daemon: No such image: nope\n", inspect.Stderr);
        var save = Berth("save", "-o", Path.Combine(Daemon.Root, "out.tar"), "nope");
        Assert.Equal(1, save.ExitCode);
        Assert.Contains("No such image: nope", save.Stderr);
        Assert.False(File.Exists(Path.Combine(Daemon.Root, "out.tar")), "a failed save left its file behind");
        Assert.Empty(Directory.GetFiles(Daemon.Root, ".out.tar.*"));
        var flag = Berth("images", "--bogus");
        Assert.Equal(125, flag.ExitCode);
        Assert.StartsWith("unknown flag: --bogus\n", flag.Stderr);
        var args = Berth("tag", "only-one");
        Assert.Equal(1, args.ExitCode);
        Assert.Contains("berth tag", args.Stderr);
    }

    [SkippableFact]
    public void Berth_without_a_daemon_says_so_and_exits_1()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        string absent = Path.Combine(Daemon.Root, "absent.sock");
        var result = Tools.Run(Tools.Berth, ["-H", "unix://" + absent, "info"]);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"Cannot connect to the Berth daemon at unix://{absent}. Is the berth daemon running?\n", result.Stderr);
        var env = Tools.Run(Tools.Berth, ["images"], new Dictionary<string, string> { ["BERTH_HOST"] = "unix://" + absent });
        Assert.Equal(1, env.ExitCode);
        Assert.Contains($"unix://{absent}", env.Stderr);
    }
}
