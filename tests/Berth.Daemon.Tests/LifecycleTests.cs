using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>Starting, refusing, and stopping berthd: each test has its own daemon.</summary>
public class LifecycleTests
{
    [SkippableFact]
    public void A_second_daemon_on_the_same_data_root_is_refused_and_the_first_keeps_serving()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        using var first = DaemonInstance.Start();
        string otherSocket = Path.Combine(first.Root, "second.sock");
        var second = DaemonInstance.RunToExit("--data-root", first.DataRoot, "--exec-root", Path.Combine(first.Root, "exec2"),
            "-H", "unix://" + otherSocket);
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains($"data root {first.DataRoot} is in use", second.Stderr);
        Assert.Contains($"pid {first.Process.Id}", second.Stderr);
        Assert.False(File.Exists(otherSocket), "the refused daemon created its socket");
        Assert.Equal("OK", Tools.Curl(first.Socket, "http://berth/_ping").Stdout);
    }

    [SkippableFact]
    public void A_live_socket_of_another_daemon_is_not_taken_over()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        using var first = DaemonInstance.Start();
        var other = Directory.CreateTempSubdirectory("berthd-test-");
        try
        {
            var second = DaemonInstance.RunToExit("--data-root", Path.Combine(other.FullName, "data"),
                "--exec-root", Path.Combine(other.FullName, "exec"), "-H", first.Host);
            Assert.NotEqual(0, second.ExitCode);
            Assert.Contains($"{first.Socket} is in use", second.Stderr);
            Assert.Equal("OK", Tools.Curl(first.Socket, "http://berth/_ping").Stdout);
        }
        finally
        {
            other.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public void Sigterm_exits_0_and_removes_the_socket_and_pid_file()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        using var daemon = DaemonInstance.Start();
        string pidFile = Path.Combine(daemon.ExecRoot, "berthd.pid");
        Assert.True(File.Exists(pidFile));
        int? exit = daemon.Terminate(TimeSpan.FromSeconds(5));
        Assert.True(exit == 0, $"berthd exited with {exit?.ToString() ?? "nothing (still running)"} on SIGTERM; its log:\n{daemon.Stderr}");
        Assert.False(File.Exists(daemon.Socket), "socket left behind");
        Assert.False(File.Exists(pidFile), "pid file left behind");
        Assert.Contains("msg=\"daemon shutdown complete\"", daemon.Stderr);
    }

    [SkippableFact]
    public void Sigint_also_stops_it_cleanly()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        using var daemon = DaemonInstance.Start();
        Berth.Linux.Libc.kill(daemon.Process.Id, 2);
        Assert.True(daemon.Process.WaitForExit(TimeSpan.FromSeconds(5)), "berthd did not exit on SIGINT");
        Assert.Equal(0, daemon.Process.ExitCode);
        Assert.False(File.Exists(daemon.Socket));
    }

    [SkippableFact]
    public void A_stale_socket_is_replaced_and_the_engine_id_survives_a_restart()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var root = Directory.CreateTempSubdirectory("berthd-test-").FullName;
        try
        {
            string socketPath = Path.Combine(root, "berth.sock");
            // A socket file nobody listens on, as a killed daemon leaves it. A .NET socket unlinks its own
            // path on dispose, so the stale file is a second hard link to it.
            string bound = Path.Combine(root, "bound.sock");
            using (var dead = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
                System.Net.Sockets.ProtocolType.Unspecified))
            {
                dead.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(bound));
                var link = Tools.Run("ln", [bound, socketPath]);
                Assert.True(link.ExitCode == 0, link.ToString());
            }
            Assert.Equal("socket", Tools.Run("stat", ["-c", "%F", socketPath]).Stdout.Trim());
            string id;
            using (var daemon = DaemonInstance.Start(root))
            {
                Assert.Contains("msg=\"removing stale socket\"", daemon.LogContaining("removing stale socket", TimeSpan.FromSeconds(5)));
                id = JsonDocument.Parse(Tools.Curl(daemon.Socket, "http://berth/info").Stdout).RootElement.GetProperty("ID").GetString()!;
            }
            using (var again = DaemonInstance.Start(root))
                Assert.Equal(id, JsonDocument.Parse(Tools.Curl(again.Socket, "http://berth/info").Stdout).RootElement.GetProperty("ID").GetString());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public void A_regular_file_at_the_socket_path_is_refused_and_kept()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var root = Directory.CreateTempSubdirectory("berthd-test-").FullName;
        try
        {
            string path = Path.Combine(root, "berth.sock");
            File.WriteAllText(path, "not a socket");
            var result = DaemonInstance.RunToExit("--data-root", Path.Combine(root, "data"), "--exec-root", Path.Combine(root, "exec"), "-H", "unix://" + path);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains($"{path} exists and is not a socket", result.Stderr);
            Assert.Equal("not a socket", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public void Tcp_hosts_and_bad_flags_are_refused_with_a_clear_message()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var tcp = DaemonInstance.RunToExit("-H", "tcp://127.0.0.1:2375", "--data-root", "/tmp/berthd-never-used");
        Assert.NotEqual(0, tcp.ExitCode);
        Assert.Contains("TCP is not supported yet", tcp.Stderr);
        Assert.False(Directory.Exists("/tmp/berthd-never-used"), "a refused start created its data root");
        var level = DaemonInstance.RunToExit("--log-level", "loud", "--data-root", "/tmp/berthd-never-used");
        Assert.NotEqual(0, level.ExitCode);
        Assert.Contains("invalid log level loud", level.Stderr);
        var relative = DaemonInstance.RunToExit("--data-root", "relative/dir");
        Assert.NotEqual(0, relative.ExitCode);
        Assert.Contains("--data-root relative/dir: must be an absolute path", relative.Stderr);
    }
}
