using System.Diagnostics;
using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>
/// Containers under berth-monitor through the real docker CLI, on each exec driver: the in-process "berth" (the
/// default) and runc's binary (--runtime runc). Run, exec, attach, stdin and a terminal; nothing left after rm.
/// </summary>
public class ContainerMonitorTests(ContainerDaemon fixture) : IClassFixture<ContainerDaemon>
{
    DaemonInstance Daemon => fixture.Daemon;

    ProcessResult Docker(params string[] args) => DockerCli.Docker(Daemon, args);

    static ProcessResult Ok(ProcessResult result) => DockerCli.Ok(result);

    string[] ContainerDirs()
    {
        string dir = Path.Combine(Daemon.DataRoot, "containers");
        return Directory.Exists(dir) ? [.. Directory.GetDirectories(dir).Select(Path.GetFileName).Order()!] : [];
    }

    static void SkipWithoutRunc(string runtime) => Scenarios.SkipWithoutRunc(runtime);

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Run_rm_prints_the_output_and_exits_with_the_containers_code(string runtime)
    {
        SkipWithoutRunc(runtime);
        var before = ContainerDirs();
        var result = Docker("run", "--rm", "--runtime", runtime, ContainerDaemon.One, "sh", "-c", "echo hi; echo err >&2; exit 7");
        Assert.True(result.ExitCode == 7, result.ToString());
        Assert.Equal("hi\n", result.Stdout);
        Assert.Equal("err\n", result.Stderr);
        Assert.Equal(before, ContainerDirs());
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Run_rm_of_a_command_that_cannot_start_fails_and_removes_the_container(string runtime)
    {
        SkipWithoutRunc(runtime);
        var before = ContainerDirs();
        // docker run attaches and waits for "removed" before it starts: both must end when the start fails.
        var result = DockerCli.Docker(Daemon, ["run", "--rm", "--runtime", runtime, ContainerDaemon.One, "/no/such/program"]);
        Assert.True(result.ExitCode is 125 or 126 or 127, result.ToString());
        Assert.Contains("/no/such/program", result.Stderr);
        Assert.Equal(before, ContainerDirs());
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void The_monitor_is_no_child_of_berthd_and_berthd_keeps_no_zombie(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "mon-z-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        try
        {
            int monitor = ContainerLeaks.MonitorOf(id) ?? throw new InvalidOperationException($"no monitor of {id} runs");
            // Its parent is not berthd, and it leads a session of its own: killing berthd (even its process group)
            // leaves it running, and berthd has nothing to reap when it exits.
            Assert.NotEqual(Daemon.Process.Id, StatField(monitor, 1));
            Assert.Equal(monitor, StatField(monitor, 3));
            Ok(Docker("run", "--rm", "--runtime", runtime, ContainerDaemon.One, "true"));
        }
        finally
        {
            Docker("rm", "-f", name);
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
        Assert.Empty(ZombieChildrenOf(Daemon.Process.Id));
    }

    [Fact]
    public void Berthd_holds_no_thread_per_running_container()
    {
        const int count = 8;
        int before = ThreadsOf(Daemon.Process.Id);
        var ids = new List<string>();
        try
        {
            for (int i = 0; i < count; i++)
                ids.Add(Ok(Docker("run", "-d", "--name", $"mon-t-{i}", ContainerDaemon.One, "sleep", "600")).Stdout.Trim());
            // Each container's exit is awaited on the monitor's socket, not by a thread of berthd blocked on it (a
            // thread each: 8 more). The thread pool may grow a little with the requests.
            int grown = ThreadsOf(Daemon.Process.Id) - before;
            Assert.True(grown < count / 2, $"berthd grew by {grown} threads while {count} containers were started and run");
        }
        finally
        {
            Docker(["rm", "-f", .. ids]);
        }
        foreach (var id in ids) ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    static int ThreadsOf(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal))["Threads:".Length..].Trim());

    /// <summary>Field <paramref name="index"/> after the command and state in /proc/PID/stat (1: ppid, 3: session).</summary>
    static int StatField(int pid, int index)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[index]);
    }

    static List<string> ZombieChildrenOf(int parent)
    {
        var zombies = new List<string>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] after = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (after[0] == "Z" && int.Parse(after[1]) == parent) zombies.Add(stat);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return zombies;
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Run_detached_exec_stop_and_rm(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "mon-d-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, ContainerDaemon.One, "sh", "-c", "echo started; exec sleep 600")).Stdout.Trim();
        // A failed step must not leave the container running: its monitor would outlive the test's berthd.
        try
        {
            var inspect = JsonDocument.Parse(Ok(Docker("inspect", name)).Stdout).RootElement[0];
            Assert.Equal(runtime, inspect.GetProperty("HostConfig").GetProperty("Runtime").GetString());
            Assert.True(inspect.GetProperty("State").GetProperty("Running").GetBoolean());
            Assert.NotNull(ContainerLeaks.MonitorOf(id));

            // Output, environment, directory, user and the exit code of an exec'd process.
            var exec = Docker("exec", "-e", "A=b", "-w", "/tmp", "-u", "65534", name, "sh", "-c", "echo $A; pwd; id -u; echo e >&2; exit 5");
            Assert.True(exec.ExitCode == 5, exec.ToString());
            Assert.Equal("b\n/tmp\n65534\n", exec.Stdout);
            Assert.Equal("e\n", exec.Stderr);
            // Stdin to an exec'd process.
            var cat = DockerWithInput("line one\nline two\n", "exec", "-i", name, "cat");
            Assert.True(cat.ExitCode == 0, cat.ToString());
            Assert.Equal("line one\nline two\n", cat.Stdout);
            // Detached: it runs on after the CLI returned.
            Ok(Docker("exec", "-d", name, "sh", "-c", "echo detached > /tmp/d"));
            Assert.Equal("detached\n", Poll(() => Docker("exec", name, "cat", "/tmp/d"), r => r.ExitCode == 0).Stdout);

            Assert.Equal("started\n", Ok(Docker("logs", name)).Stdout);
            Ok(Docker("stop", "-t", "1", name));
            Assert.Equal("137", Ok(Docker("wait", name)).Stdout.Trim());
            DockerCli.Fails(Docker("exec", name, "true"), "is not running");
        }
        finally
        {
            Docker("rm", "-f", name);
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Attach_sees_the_output_and_the_exit_code(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "mon-a-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, ContainerDaemon.One, "sh", "-c",
            "while [ ! -e /tmp/go ]; do echo tick; sleep 0.2; done; echo after-go; echo to-err >&2; exit 3")).Stdout.Trim();
        using var attach = StartDocker("attach", name);
        var stderr = attach.StandardError.ReadToEndAsync();
        // A tick through the attach shows it is in place; then the container is told to finish.
        string? first = attach.StandardOutput.ReadLineAsync().Wait(60_000) ? null : "no tick within 60 s";
        Assert.Null(first);
        File.WriteAllText(Path.Combine(Daemon.DataRoot, "containers", id, "rootfs", "tmp", "go"), "");
        var rest = attach.StandardOutput.ReadToEndAsync();
        Assert.True(attach.WaitForExit(60_000), "docker attach did not end within 60 s of the container's exit");
        string stdout = rest.Result;
        Assert.True(attach.ExitCode == 3, $"exit {attach.ExitCode}\n{stdout}\n{stderr.Result}");
        Assert.EndsWith("after-go\n", stdout);
        Assert.Equal("to-err\n", stderr.Result);
        Ok(Docker("rm", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Run_i_passes_stdin_and_loses_no_first_output(string runtime)
    {
        SkipWithoutRunc(runtime);
        var result = DockerWithInput("from stdin\n", "run", "--rm", "-i", "--runtime", runtime, ContainerDaemon.One, "sh", "-c", "echo first; cat; echo last");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("first\nfrom stdin\nlast\n", result.Stdout);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Run_it_gets_a_terminal(string runtime)
    {
        SkipWithoutRunc(runtime);
        Skip.If(Tools.Which("script") is null, "script is not installed (apt-get install bsdutils)");
        string typescript = Path.Combine(Daemon.Root, "typescript-" + runtime);
        // script(1) gives the docker CLI a pty as its stdin and stdout, so -it takes the terminal path.
        var run = Tools.Run("script", ["-qec", $"docker -H {Daemon.Host} run --rm -it --runtime {runtime} {ContainerDaemon.One} sh -c 'tty; echo cols $(stty size 2>/dev/null); exit 4'", typescript],
            new Dictionary<string, string> { ["DOCKER_CONFIG"] = Path.Combine(Daemon.Root, "docker-config"), ["TERM"] = "xterm" }, timeoutSeconds: 120);
        string screen = File.ReadAllText(typescript);
        Assert.True(run.ExitCode == 4, $"docker run -it exited {run.ExitCode}:\n{screen}\n{run}");
        Assert.Contains("/dev/pts/", screen);
        Assert.Contains("\r\n", screen); // the terminal's line discipline, not a pipe
    }

    [SkippableFact]
    public void An_unknown_runtime_is_refused_at_create_with_dockerds_text()
    {
        var before = ContainerDirs();
        DockerCli.Fails(Docker("create", "--runtime", "nope", "--name", "mon-nope", ContainerDaemon.One, "true"), "Unknown runtime specified nope");
        Assert.Equal(before, ContainerDirs());
        var curl = Tools.Curl(Daemon.Socket, "-i", "-X", "POST", "-H", "Content-Type: application/json",
            "-d", $"{{\"Image\":\"{ContainerDaemon.One}\",\"HostConfig\":{{\"Runtime\":\"nope\"}}}}", "http://localhost/v1.41/containers/create");
        Assert.Contains("HTTP/1.1 400", curl.Stdout);
        // The default is recorded.
        string id = Ok(Docker("create", ContainerDaemon.One, "true")).Stdout.Trim();
        Assert.Equal("berth", Ok(Docker("inspect", "--format", "{{.HostConfig.Runtime}}", id)).Stdout.Trim());
        Ok(Docker("rm", id));
    }

    static ProcessResult Poll(Func<ProcessResult> call, Func<ProcessResult, bool> done)
    {
        ProcessResult last = call();
        for (int i = 0; i < 100 && !done(last); i++)
        {
            Thread.Sleep(100);
            last = call();
        }
        return last;
    }

    Process StartDocker(params string[] args)
    {
        var info = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in (string[])["-H", Daemon.Host, .. args]) info.ArgumentList.Add(a);
        info.Environment["DOCKER_CONFIG"] = Path.Combine(Daemon.Root, "docker-config");
        return Process.Start(info)!;
    }

    ProcessResult DockerWithInput(string input, params string[] args)
    {
        using var process = StartDocker(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(input);
        process.StandardInput.Close();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"docker {string.Join(' ', args)} did not finish in 120 s");
        }
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>
/// Live-restore: berthd killed with SIGKILL while containers run; the monitors keep them running and logging, and
/// the berthd started again on the same data root follows them (stop, exec, exit codes) as if it had never left.
/// </summary>
public class LiveRestoreTests
{
    [SkippableFact]
    public void Containers_outlive_a_killed_berthd_and_are_followed_again()
    {
        using var fixture = new ContainerDaemon();
        var daemon = fixture.Daemon;
        ProcessResult Docker(DaemonInstance d, params string[] args) => DockerCli.Docker(d, args);
        string tty = DockerCli.Ok(Docker(daemon, "run", "-dt", "--name", "lr-tty", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        string counter = DockerCli.Ok(Docker(daemon, "run", "-d", "--name", "lr-count", ContainerDaemon.One, "sh", "-c",
            "i=0; while true; do i=$((i+1)); echo $i; sleep 0.01; done")).Stdout.Trim();
        string quits = DockerCli.Ok(Docker(daemon, "run", "-d", "--name", "lr-quits", ContainerDaemon.One, "sh", "-c",
            "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 9")).Stdout.Trim();
        string Pid(DaemonInstance d, string name) => DockerCli.Ok(Docker(d, "inspect", "--format", "{{.State.Pid}}", name)).Stdout.Trim();
        string ttyPid = Pid(daemon, "lr-tty"), counterPid = Pid(daemon, "lr-count");

        // SIGKILL: nothing of berthd's shutdown runs.
        daemon.Process.Kill();
        Assert.True(daemon.Process.WaitForExit(30_000), "berthd did not die of SIGKILL within 30 s");
        // lr-quits exits while berthd is away: its monitor records the exit.
        string quitsRootfs = Path.Combine(daemon.DataRoot, "containers", quits, "rootfs");
        File.WriteAllText(Path.Combine(quitsRootfs, "tmp", "go"), "");
        string exitFile = Path.Combine(daemon.DataRoot, "containers", quits, "exit.json");
        for (int i = 0; i < 600 && !File.Exists(exitFile); i++) Thread.Sleep(100);
        Assert.True(File.Exists(exitFile), "lr-quits' monitor wrote no exit.json within 60 s");

        using var again = DaemonInstance.Start(daemon.Root, ContainerDaemon.ExtraArgs);
        Assert.Equal("true " + ttyPid, DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Running}} {{.State.Pid}}", "lr-tty")).Stdout.Trim());
        Assert.Equal("true " + counterPid, DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Running}} {{.State.Pid}}", "lr-count")).Stdout.Trim());
        Assert.Equal("exited 9", DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "lr-quits")).Stdout.Trim());

        DockerCli.Ok(Docker(again, "stop", "-t", "1", "lr-count"));
        Assert.Equal("exited", DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Status}}", "lr-count")).Stdout.Trim());
        var lines = DockerCli.Ok(Docker(again, "logs", "lr-count")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 10, $"only {lines.Length} lines logged");
        for (int i = 0; i < lines.Length; i++)
            Assert.True(lines[i] == (i + 1).ToString(), $"log line {i + 1} is \"{lines[i]}\": a gap or a duplicate");
        try
        {
            Assert.Equal("hi", DockerCli.Ok(Docker(again, "exec", "lr-tty", "echo", "hi")).Stdout.Trim());
            DockerCli.Ok(Docker(again, "stop", "-t", "1", "lr-tty"));
            Assert.Equal("137", DockerCli.Ok(Docker(again, "wait", "lr-tty")).Stdout.Trim());
        }
        finally
        {
            DockerCli.Ok(Docker(again, "rm", "-f", "lr-tty", "lr-count", "lr-quits"));
        }
        foreach (var id in new[] { tty, counter, quits }) ContainerLeaks.AssertNothingLeft(again, id);
        again.Terminate(TimeSpan.FromSeconds(30));
    }
}
