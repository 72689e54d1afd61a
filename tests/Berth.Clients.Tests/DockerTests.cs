using Berth.Clients.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Clients.Tests;

/// <summary>
/// dockerd 20.10 with <c>--add-runtime</c>: <c>docker run --runtime berth</c> against <c>--runtime ref-runc</c>, each
/// scenario on both, with the same results. dockerd's containerd shim calls the runtime (runtime-cli-contract.md).
/// </summary>
public sealed class DockerTests(DockerEnvironment docker, ITestOutputHelper output) : IClassFixture<DockerEnvironment>
{
    private const string Image = DockerEnvironment.Image;
    private const string Interactive = "test -t 0 && echo OUT:tty; read line; echo OUT:got:$line; exit 5";
    private const string Service = "trap 'exit 7' TERM; echo started; sleep 1000 & wait";

    [SkippableFact]
    public void RunRmReportsOutputAndExitCodes()
    {
        docker.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            outcome.Record("exit 0", docker.Docker(output,
                [.. DockerEnvironment.Run(runtime, "--rm", "--env", "GREETING=hello", "--workdir", "/tmp"), Image, "sh", "-c", "echo $GREETING; pwd; id -u"]));
            outcome.Record("exit 3", docker.Docker(output,
                [.. DockerEnvironment.Run(runtime, "--rm"), Image, "sh", "-c", "echo out; echo err >&2; exit 3"]));
            // In the host's pid namespace the shell is not pid 1, so SIGKILL from itself kills it.
            outcome.Record("killed by SIGKILL", docker.Docker(output,
                [.. DockerEnvironment.Run(runtime, "--rm", "--pid", "host"), Image, "sh", "-c", "echo before; kill -9 $$; echo after"]));
            outcome.Record("user", docker.Docker(output, [.. DockerEnvironment.Run(runtime, "--rm", "--user", "65534:65534"), Image, "id"]));
            return outcome;
        }, runc =>
        {
            Assert.Equal(new Step("exit 0", 0, "hello\n/tmp\n0"), runc["exit 0"]);
            Assert.Equal(new Step("exit 3", 3, "out"), runc["exit 3"]);
            Assert.Equal(new Step("killed by SIGKILL", 137, "before"), runc["killed by SIGKILL"]);
            Assert.Equal(new Step("user", 0, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"), runc["user"]);
        });
    }

    [SkippableFact]
    public void DetachedContainerLogsTopPauseUpdateStop()
    {
        docker.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            var name = ClientEnvironment.ContainerName("docker-detach", runtime);
            try
            {
                var id = outcome.Record("run -d", docker.Docker(output, [.. DockerEnvironment.Run(runtime, "--detach", "--name", name), Image, "sh", "-c", Service]), _ => "").Stdout.Trim();
                ClientEnvironment.WaitFor(() => docker.Docker(output, "top", name, "-o", "pid,args").Stdout.Contains("sleep 1000"), TimeSpan.FromSeconds(10));
                outcome.Record("logs", docker.Docker(output, "logs", name));
                outcome.Record("top", docker.Docker(output, "top", name, "-o", "pid,args"), s => SortedLines(WithoutFirstColumn(s)));
                outcome.Record("pause", docker.Docker(output, "pause", name), _ => "");
                outcome.Record("status paused", docker.Docker(output, "inspect", "--format", "{{.State.Status}}", name));
                outcome.Record("unpause", docker.Docker(output, "unpause", name), _ => "");
                outcome.Record("update", docker.Docker(output, "update", "--memory", "64m", "--memory-swap", "128m", "--cpu-quota", "50000", name), _ => "");
                outcome.Record("limits in cgroup", 0, string.Join("\n",
                    docker.ReadCgroupFile("memory", "memory.limit_in_bytes", id), docker.ReadCgroupFile("cpu", "cpu.cfs_quota_us", id)));
                outcome.Record("stop", docker.Docker(output, "stop", "-t", "10", name), _ => "");
                outcome.Record("exit code", docker.Docker(output, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name));
                outcome.Record("rm", docker.Docker(output, "rm", name), _ => "");
            }
            finally
            {
                docker.Docker(output, "rm", "--force", name);
            }
            return outcome;
        }, runc =>
        {
            Assert.Equal("started", runc["logs"].Output);
            Assert.Equal("COMMAND\nsh -c " + Service + "\nsleep 1000", runc["top"].Output);
            Assert.Equal("paused", runc["status paused"].Output);
            Assert.Equal(0, runc["update"].ExitCode);
            Assert.Equal("67108864\n50000", runc["limits in cgroup"].Output);
            Assert.Equal("exited 7", runc["exit code"].Output);
            Assert.Equal(0, runc["rm"].ExitCode);
        });
    }

    [SkippableFact]
    [Trait("needs", "exec")]
    public void ExecIntoRunningContainer()
    {
        docker.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            var name = ClientEnvironment.ContainerName("docker-exec", runtime);
            try
            {
                outcome.Record("run -d", docker.Docker(output, [.. DockerEnvironment.Run(runtime, "--detach", "--name", name), Image, "sleep", "1000"]), _ => "");
                outcome.Record("exec exit 4", docker.Docker(output, "exec", "--env", "WHO=exec", name, "sh", "-c", "echo in-$WHO; exit 4"));
                outcome.Record("exec user and cwd", docker.Docker(output, "exec", "--user", "65534", "--workdir", "/tmp", name, "sh", "-c", "id -u; pwd"));
                outcome.Record("exec sees pid 1", docker.Docker(output, "exec", name, "cat", "/proc/1/cmdline"), s => s.Replace('\0', ' ').Trim());
            }
            finally
            {
                docker.Docker(output, "rm", "--force", name);
            }
            return outcome;
        }, runc =>
        {
            Assert.Equal(new Step("exec exit 4", 4, "in-exec"), runc["exec exit 4"]);
            Assert.Equal(new Step("exec user and cwd", 0, "65534\n/tmp"), runc["exec user and cwd"]);
            Assert.Equal("sleep 1000", runc["exec sees pid 1"].Output);
        });
    }

    [SkippableFact]
    [Trait("needs", "tty")]
    public void RunInteractiveThroughPty()
    {
        docker.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            outcome.Record("run -it", docker.DockerOnPty(output, "hello\n", [.. DockerEnvironment.Run(runtime, "--interactive", "--tty", "--rm"), Image, "sh", "-c", Interactive]),
                s => Pty.MarkedLines(s));
            return outcome;
        }, runc => Assert.Equal(new Step("run -it", 5, "OUT:tty\nOUT:got:hello"), runc["run -it"]));
    }

    [SkippableFact]
    [Trait("needs", "exec")]
    [Trait("needs", "tty")]
    public void ExecInteractiveThroughPty()
    {
        docker.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            var name = ClientEnvironment.ContainerName("docker-exec-it", runtime);
            try
            {
                outcome.Record("run -d", docker.Docker(output, [.. DockerEnvironment.Run(runtime, "--detach", "--name", name), Image, "sleep", "1000"]), _ => "");
                outcome.Record("exec -it", docker.DockerOnPty(output, "hello\n", "exec", "--interactive", "--tty", name, "sh", "-c", Interactive),
                    s => Pty.MarkedLines(s));
            }
            finally
            {
                docker.Docker(output, "rm", "--force", name);
            }
            return outcome;
        }, runc => Assert.Equal(new Step("exec -it", 5, "OUT:tty\nOUT:got:hello"), runc["exec -it"]));
    }

    /// <summary>docker top needs a PID column (it picks the container's processes by pid); the pids differ per run.</summary>
    private static string WithoutFirstColumn(string text) =>
        string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.TrimStart().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries) is [_, var rest] ? rest : ""));

    private static string SortedLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join('\n', lines.Take(1).Concat(lines.Skip(1).Order(StringComparer.Ordinal)));
    }
}
