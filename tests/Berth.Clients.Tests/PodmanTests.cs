using Berth.Clients.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Clients.Tests;

/// <summary>podman 4.3 with <c>--runtime PATH</c>: each scenario on runc, then on berth-runtime, with the same results.</summary>
public sealed class PodmanTests(PodmanEnvironment podman, ITestOutputHelper output) : IClassFixture<PodmanEnvironment>
{
    private const string Image = PodmanEnvironment.Image;
    private const string Interactive = "test -t 0 && echo OUT:tty; read line; echo OUT:got:$line; exit 5";
    // pid 1 with a TERM trap and a child: the trap runs when stop's SIGTERM arrives, and the container exits 7.
    private const string Service = "trap 'exit 7' TERM; echo started; sleep 1000 & wait";

    [SkippableFact]
    public void RunRmReportsOutputAndExitCodes()
    {
        podman.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            outcome.Record("exit 0", podman.Podman(runtime, output,
                [.. podman.Run("--rm", "-e", "GREETING=hello", "-w", "/tmp"), Image, "sh", "-c", "echo $GREETING; pwd; id -u"]));
            outcome.Record("exit 3", podman.Podman(runtime, output,
                [.. podman.Run("--rm"), Image, "sh", "-c", "echo out; echo err >&2; exit 3"]));
            // In the host's pid namespace the shell is not pid 1, so SIGKILL from itself kills it: a real signal death.
            outcome.Record("killed by SIGKILL", podman.Podman(runtime, output,
                [.. podman.Run("--rm", "--pid", "host"), Image, "sh", "-c", "echo before; kill -9 $$; echo after"]));
            outcome.Record("user", podman.Podman(runtime, output,
                [.. podman.Run("--rm", "--user", "65534:65534"), Image, "id"]));
            return outcome;
        }, runc =>
        {
            Assert.Equal(new Step("exit 0", 0, "hello\n/tmp\n0"), runc["exit 0"]);
            Assert.Equal(new Step("exit 3", 3, "out"), runc["exit 3"]);
            Assert.Equal(new Step("killed by SIGKILL", 137, "before"), runc["killed by SIGKILL"]);
            Assert.Equal(0, runc["user"].ExitCode);
        });
    }

    [SkippableFact]
    public void DetachedContainerTopPauseStopRemove()
    {
        podman.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            var name = ContainerName("detach", runtime);
            try
            {
                outcome.Record("run -d", podman.Podman(runtime, output, [.. podman.Run("-d", "--name", name), Image, "sh", "-c", Service]), _ => "");
                ClientEnvironment.WaitFor(() => podman.Podman(runtime, output, "top", name, "args").Stdout.Contains("sleep 1000"), TimeSpan.FromSeconds(10));
                outcome.Record("logs", podman.Podman(runtime, output, "logs", name));
                outcome.Record("top", podman.Podman(runtime, output, "top", name, "args"), SortedLines);
                outcome.Record("pause", podman.Podman(runtime, output, "pause", name), _ => "");
                outcome.Record("status paused", podman.Podman(runtime, output, "inspect", "--format", "{{.State.Status}}", name));
                outcome.Record("unpause", podman.Podman(runtime, output, "unpause", name), _ => "");
                outcome.Record("status running", podman.Podman(runtime, output, "inspect", "--format", "{{.State.Status}}", name));
                outcome.Record("stop", podman.Podman(runtime, output, "stop", "--time", "10", name), _ => "");
                outcome.Record("exit code", podman.Podman(runtime, output, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name));
                outcome.Record("rm", podman.Podman(runtime, output, "rm", name), _ => "");
                outcome.Record("gone", podman.Podman(runtime, output, "ps", "--all", "--quiet", "--filter", $"name=^{name}$"));
            }
            finally
            {
                podman.Podman(runtime, output, "rm", "--force", "--ignore", "--time", "0", name);
            }
            return outcome;
        }, runc =>
        {
            Assert.Equal(0, runc["run -d"].ExitCode);
            Assert.Equal("started", runc["logs"].Output);
            Assert.Equal("COMMAND\nsh -c " + Service + "\nsleep 1000", runc["top"].Output);
            Assert.Equal("paused", runc["status paused"].Output);
            Assert.Equal("running", runc["status running"].Output);
            Assert.Equal("exited 7", runc["exit code"].Output);
            Assert.Equal(new Step("gone", 0, ""), runc["gone"]);
        });
    }

    [SkippableFact]
    [Trait("needs", "exec")]
    public void ExecIntoRunningContainer()
    {
        podman.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            var name = ContainerName("exec", runtime);
            try
            {
                outcome.Record("run -d", podman.Podman(runtime, output, [.. podman.Run("-d", "--name", name), Image, "sleep", "1000"]), _ => "");
                outcome.Record("exec exit 4", podman.Podman(runtime, output, "exec", "-e", "WHO=exec", name, "sh", "-c", "echo in-$WHO; exit 4"));
                outcome.Record("exec user and cwd", podman.Podman(runtime, output, "exec", "--user", "65534", "--workdir", "/tmp", name, "sh", "-c", "id -u; pwd"));
                outcome.Record("exec sees pid 1", podman.Podman(runtime, output, "exec", name, "cat", "/proc/1/cmdline"), s => s.Replace('\0', ' ').Trim());
            }
            finally
            {
                podman.Podman(runtime, output, "rm", "--force", "--ignore", "--time", "0", name);
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
        podman.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            outcome.Record("run -it", podman.PodmanOnPty(runtime, output, "hello\n", [.. podman.Run("-it", "--rm"), Image, "sh", "-c", Interactive]),
                s => Pty.MarkedLines(s));
            return outcome;
        }, runc => Assert.Equal(new Step("run -it", 5, "OUT:tty\nOUT:got:hello"), runc["run -it"]));
    }

    [SkippableFact]
    [Trait("needs", "exec")]
    [Trait("needs", "tty")]
    public void ExecInteractiveThroughPty()
    {
        podman.EnsureStarted(output);
        Comparison.SameOnBoth(output, runtime =>
        {
            var outcome = new ScenarioOutcome();
            var name = ContainerName("exec-it", runtime);
            try
            {
                outcome.Record("run -d", podman.Podman(runtime, output, [.. podman.Run("-d", "--name", name), Image, "sleep", "1000"]), _ => "");
                outcome.Record("exec -it", podman.PodmanOnPty(runtime, output, "hello\n", "exec", "-it", name, "sh", "-c", Interactive),
                    s => Pty.MarkedLines(s));
            }
            finally
            {
                podman.Podman(runtime, output, "rm", "--force", "--ignore", "--time", "0", name);
            }
            return outcome;
        }, runc => Assert.Equal(new Step("exec -it", 5, "OUT:tty\nOUT:got:hello"), runc["exec -it"]));
    }

    private static string ContainerName(string scenario, RuntimeUnderTest runtime) => ClientEnvironment.ContainerName("podman-" + scenario, runtime);

    private static string SortedLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join('\n', lines.Take(1).Concat(lines.Skip(1).Order(StringComparer.Ordinal)));
    }
}
