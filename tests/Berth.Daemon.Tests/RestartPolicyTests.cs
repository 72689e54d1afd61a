using System.Diagnostics;
using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;
using static Berth.Daemon.Tests.Infrastructure.Scenarios;

namespace Berth.Daemon.Tests;

/// <summary>
/// Restart policies through the real docker CLI, on each exec driver: on-failure:N with dockerd's back-off and
/// RestartCount, always and its manual stop, the restarting state in ps and inspect, rm -f during the back-off.
/// </summary>
public class RestartPolicyTests(ContainerDaemon fixture) : DockerScenarioTests(fixture)
{
    string[] Actions(string name, string since) =>
        Ok(Docker("events", "--since", since, "--until", DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(),
            "--filter", "container=" + name, "--filter", "type=container", "--format", "{{.Action}}")).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void On_failure_3_runs_four_times_and_ends_with_restart_count_3(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "rp-onfail-" + runtime;
        string since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString();
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--restart", "on-failure:3", "--name", name, ContainerDaemon.One,
            "sh", "-c", "echo run; exit 1")).Stdout.Trim();
        try
        {
            PollUntil(() => Format("{{.State.Status}} {{.RestartCount}}", name), s => s == "exited 3", 60, "on-failure:3 ends exited after 3 restarts");
            Thread.Sleep(1000); // no fifth run comes
            Assert.Equal("exited 3 1 false", Format("{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.State.Restarting}}", name));
            Assert.Equal(["run", "run", "run", "run"], Ok(Docker("logs", name)).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            var actions = Actions(name, since).Where(a => a is "start" or "die").ToArray();
            Assert.Equal(["start", "die", "start", "die", "start", "die", "start", "die"], actions);
        }
        finally
        {
            Ok(Docker("rm", "-f", name));
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Always_restarts_after_an_exit_but_not_after_docker_stop(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "rp-always-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--restart", "always", "--name", name, ContainerDaemon.One,
            "sh", "-c", "echo run; [ -e /tmp/stay ] && exec sleep 600; sleep 0.5")).Stdout.Trim();
        try
        {
            PollUntil(() => Format("{{.RestartCount}}", name), s => int.Parse(s) >= 2, 60, "always restarts a container that exits 0");
            Ok(Docker("stop", "-t", "1", name));
            string after = Format("{{.State.Status}} {{.RestartCount}}", name);
            Assert.StartsWith("exited ", after);
            Thread.Sleep(2000);
            Assert.Equal(after, Format("{{.State.Status}} {{.RestartCount}}", name));
            // A start by the user begins a new count, as dockerd's (/tmp/stay, written into its layer, keeps this run going).
            Directory.CreateDirectory(Path.Combine(Daemon.DataRoot, "containers", id, "rw", "upper", "tmp"));
            File.WriteAllText(Path.Combine(Daemon.DataRoot, "containers", id, "rw", "upper", "tmp", "stay"), "");
            Ok(Docker("start", name));
            Assert.Equal("0", Format("{{.RestartCount}}", name));
        }
        finally
        {
            Ok(Docker("rm", "-f", name));
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableFact]
    public void The_back_off_shows_as_restarting_and_rm_f_cancels_it()
    {
        string name = "rp-backoff";
        string id = Ok(Docker("run", "-d", "--restart", "always", "--name", name, ContainerDaemon.One, "sh", "-c", "exit 3")).Stdout.Trim();
        // The back-off doubles from 100 ms: after a few runs it lasts seconds, long enough to be seen.
        string status = PollUntil(() => Ok(Docker("ps", "-a", "--filter", "name=" + name, "--format", "{{.Status}}")).Stdout.Trim(),
            s => s.StartsWith("Restarting (3) ", StringComparison.Ordinal), 60, "docker ps shows Restarting (3)");
        Assert.Matches(@"^Restarting \(3\) (Less than a second|\d+ seconds?) ago$", status);
        var inspect = JsonDocument.Parse(Ok(Docker("inspect", name)).Stdout).RootElement[0];
        var state = inspect.GetProperty("State");
        Assert.Equal("restarting", state.GetProperty("Status").GetString());
        Assert.True(state.GetProperty("Restarting").GetBoolean());
        Assert.True(state.GetProperty("Running").GetBoolean());
        Assert.Equal(3, state.GetProperty("ExitCode").GetInt32());
        Assert.True(inspect.GetProperty("RestartCount").GetInt32() >= 1);
        Ok(Docker("rm", "-f", name));
        Thread.Sleep(1500); // a cancelled back-off starts nothing afterwards
        ContainerLeaks.AssertNothingLeft(Daemon, id);
        DockerCli.Fails(Docker("inspect", name), "No such object: " + name);
    }

    [SkippableFact]
    public void Docker_stop_during_the_back_off_ends_it_exited()
    {
        string name = "rp-stop-backoff";
        string id = Ok(Docker("run", "-d", "--restart", "on-failure", "--name", name, ContainerDaemon.One, "sh", "-c", "exit 2")).Stdout.Trim();
        // Seen restarting once the back-off lasts 1.6 s or more: the stop then finds it in the back-off, not in a run.
        PollUntil(() => Format("{{.State.Status}} {{.RestartCount}}", name), s => s.Split(' ') is ["restarting", var n] && int.Parse(n) >= 5, 60,
            "the container is seen restarting after 5 restarts");
        Ok(Docker("stop", name));
        Assert.Equal("exited 2 false", Format("{{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}}", name));
        int count = int.Parse(Format("{{.RestartCount}}", name));
        Thread.Sleep(2000);
        Assert.Equal($"exited {count}", Format("{{.State.Status}} {{.RestartCount}}", name));
        Ok(Docker("rm", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }
}

/// <summary>
/// A berthd restart: dockerd's policies at boot (always comes back even after docker stop; unless-stopped only when
/// the user did not stop it; a container that exited while berthd was down is restarted per its policy).
/// </summary>
public class RestartPolicyDaemonRestartTests
{
    [SkippableFact]
    public void Policies_are_applied_when_berthd_starts_again()
    {
        using var fixture = new ContainerDaemon();
        var daemon = fixture.Daemon;
        ProcessResult Docker(DaemonInstance d, params string[] args) => DockerCli.Docker(d, args);
        string Run(params string[] args) => DockerCli.Ok(Docker(daemon, ["run", "-d", .. args])).Stdout.Trim();
        string quits = Run("--restart", "unless-stopped", "--name", "rb-quits", ContainerDaemon.One, "sh", "-c",
            "echo run; while [ ! -e /tmp/go ]; do sleep 0.1; done; busybox rm /tmp/go; exit 5");
        string stoppedUnless = Run("--restart", "unless-stopped", "--name", "rb-unless", ContainerDaemon.One, "sleep", "600");
        string stoppedAlways = Run("--restart", "always", "--name", "rb-always", ContainerDaemon.One, "sleep", "600");
        string plain = Run("--name", "rb-plain", ContainerDaemon.One, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 6");
        string healthy = Run("--name", "rb-healthy", "--health-cmd", "true", "--health-interval", "200ms", ContainerDaemon.One, "sleep", "600");
        DockerCli.Ok(Docker(daemon, "stop", "-t", "1", "rb-unless", "rb-always"));
        Assert.Equal("healthy", Scenarios.PollUntil(() => DockerCli.Ok(Docker(daemon, "inspect", "--format", "{{.State.Health.Status}}", "rb-healthy")).Stdout.Trim(),
            s => s == "healthy", 60, "rb-healthy turns healthy"));

        daemon.Process.Kill();
        Assert.True(daemon.Process.WaitForExit(30_000), "berthd did not die of SIGKILL within 30 s");
        foreach (var id in new[] { quits, plain })
        {
            File.WriteAllText(Path.Combine(daemon.DataRoot, "containers", id, "rootfs", "tmp", "go"), "");
            string exitFile = Path.Combine(daemon.DataRoot, "containers", id, "exit.json");
            for (int i = 0; i < 600 && !File.Exists(exitFile); i++) Thread.Sleep(100);
            Assert.True(File.Exists(exitFile), $"{id}'s monitor wrote no exit.json within 60 s");
        }

        using var again = DaemonInstance.Start(daemon.Root, ContainerDaemon.ExtraArgs);
        string State(string name) => DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Status}}", name)).Stdout.Trim();
        string Wait(string name, string want)
        {
            var clock = Stopwatch.StartNew();
            string s;
            while ((s = State(name)) != want && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(100);
            return s;
        }
        try
        {
            Assert.Equal("running", Wait("rb-quits", "running"));
            Assert.Equal("running", Wait("rb-always", "running"));
            Assert.Equal(["run", "run"], DockerCli.Ok(Docker(again, "logs", "rb-quits")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal("exited", State("rb-unless"));
            Assert.Equal("exited 6", DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "rb-plain")).Stdout.Trim());
            // Its checks resume with the container followed again: results newer than berthd's start are logged.
            var restarted = again.Process.StartTime.ToUniversalTime();
            Scenarios.PollUntil(() => DockerCli.Ok(Docker(again, "inspect", "--format", "{{range .State.Health.Log}}{{.Start}} {{end}}", "rb-healthy")).Stdout.Trim(),
                s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(t => DateTimeOffset.Parse(t) > restarted), 60, "rb-healthy is checked again after berthd's restart");
            Assert.Equal("healthy", Scenarios.PollUntil(() => DockerCli.Ok(Docker(again, "inspect", "--format", "{{.State.Health.Status}}", "rb-healthy")).Stdout.Trim(),
                s => s == "healthy", 60, "rb-healthy turns healthy again"));
        }
        finally
        {
            DockerCli.Ok(Docker(again, "rm", "-f", "rb-quits", "rb-unless", "rb-always", "rb-plain", "rb-healthy"));
        }
        foreach (var id in new[] { quits, stoppedUnless, stoppedAlways, plain, healthy }) ContainerLeaks.AssertNothingLeft(again, id);

        // A back-off in progress does not hold berthd's shutdown.
        string looping = DockerCli.Ok(Docker(again, "run", "-d", "--restart", "always", "--name", "rb-loop", ContainerDaemon.One, "sh", "-c", "exit 3")).Stdout.Trim();
        Scenarios.PollUntil(() => DockerCli.Ok(Docker(again, "inspect", "--format", "{{.RestartCount}}", "rb-loop")).Stdout.Trim(),
            s => int.Parse(s) >= 4, 60, "rb-loop restarts 4 times");
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, again.Terminate(TimeSpan.FromSeconds(30)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"berthd took {clock.Elapsed} to stop with a back-off in progress");
        Assert.Contains("daemon shutdown complete", again.Stderr);
        using var third = DaemonInstance.Start(daemon.Root, ContainerDaemon.ExtraArgs);
        DockerCli.Ok(Docker(third, "rm", "-f", "rb-loop"));
        ContainerLeaks.AssertNothingLeft(third, looping);
        Assert.Equal(0, third.Terminate(TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// dockerd's restore: a container that never started is not started by its policy (HasBeenStartedBefore), not
    /// even after a failed start; one with --rm that is not restarted is removed. The same steps on a private dockerd
    /// restarted the same way end with the same containers in the same states.
    /// </summary>
    [SkippableFact]
    public void Containers_that_never_started_stay_created_and_rm_ones_go_when_the_daemon_starts_again()
    {
        Skip.If(Tools.Which("dockerd") is null, "dockerd is not installed (apt-get install docker.io)");
        using var fixture = new ContainerDaemon();
        var daemon = fixture.Daemon;
        string dockerdRoot = Path.Combine(daemon.Root, "dockerd-boot");
        var dockerd = PrivateDockerd.Start(dockerdRoot);
        try
        {
            DockerCli.Ok(dockerd.Docker("load", "-i", Path.Combine(daemon.Root, "images.tar")));
            string[][] before =
            [
                ["create", "--network", "none", "--restart", "always", "--name", "cb-always", ContainerDaemon.One, "sleep", "600"],
                ["create", "--network", "none", "--restart", "unless-stopped", "--name", "cb-unless", ContainerDaemon.One, "sleep", "600"],
                ["create", "--network", "none", "--restart", "always", "--name", "cb-failed", ContainerDaemon.One, "/nonexistent"],
                ["create", "--network", "none", "--rm", "--name", "cb-rm", ContainerDaemon.One, "sleep", "600"],
                // Started once and killed: always brings it back at boot, which tells that the boot's starts were made.
                ["run", "-d", "--network", "none", "--restart", "always", "--name", "cb-ran", ContainerDaemon.One, "sleep", "600"],
                ["kill", "cb-ran"],
            ];
            var ids = new List<string>();
            foreach (var step in before)
            {
                if (DockerCli.Ok(DockerCli.Docker(daemon, step)).Stdout.Trim() is { Length: 64 } id) ids.Add(id);
                DockerCli.Ok(dockerd.Docker(step));
            }
            Assert.NotEqual(0, DockerCli.Docker(daemon, "start", "cb-failed").ExitCode);
            Assert.NotEqual(0, dockerd.Docker("start", "cb-failed").ExitCode);

            Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(60)));
            dockerd.Dispose();
            using var again = DaemonInstance.Start(daemon.Root, ContainerDaemon.ExtraArgs);
            dockerd = PrivateDockerd.Start(dockerdRoot);
            string States(Func<string[], ProcessResult> docker)
            {
                Scenarios.PollUntil(() => docker(["inspect", "--format", "{{.State.Status}}", "cb-ran"]).Stdout.Trim(), s => s == "running", 60,
                    "cb-ran (restart always) is started again at the daemon's start");
                var lines = DockerCli.Ok(docker(["ps", "-a", "--filter", "name=cb-", "--format", "{{.Names}} {{.State}} {{.RunningFor}}"])).Stdout
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ').Take(2)));
                return string.Join(", ", lines.Order(StringComparer.Ordinal));
            }
            try
            {
                string theirs = States(args => dockerd.Docker(args));
                Assert.Equal("cb-always created, cb-failed created, cb-ran running, cb-unless created", theirs);
                Assert.Equal(theirs, States(args => DockerCli.Docker(again, args)));
            }
            finally
            {
                DockerCli.Docker(again, "rm", "-f", "cb-always", "cb-unless", "cb-failed", "cb-rm", "cb-ran");
                dockerd.Docker("rm", "-f", "cb-always", "cb-unless", "cb-failed", "cb-rm", "cb-ran");
            }
            foreach (var id in ids) ContainerLeaks.AssertNothingLeft(again, id);
            Assert.Equal(0, again.Terminate(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            dockerd.Dispose();
        }
    }
}

/// <summary>
/// Restart policies and health checks against berthd and a private dockerd on this machine, where the outcome is
/// deterministic: the refusals' texts, the on-failure:3 container's end state and log, a health check's config and
/// its status once the container stopped.
/// </summary>
public class RestartAndHealthDockerdComparisonTests(ContainerDaemon berth) : IClassFixture<ContainerDaemon>
{
    [SkippableFact]
    public void Policies_and_health_match_dockerd()
    {
        Skip.If(Tools.Which("dockerd") is null, "dockerd is not installed (apt-get install docker.io)");
        var berthd = berth.Daemon;
        using var dockerd = PrivateDockerd.Start(Path.Combine(berthd.Root, "dockerd-policies"));
        DockerCli.Ok(dockerd.Docker("load", "-i", Path.Combine(berthd.Root, "images.tar")));
        Func<string[], ProcessResult> ours = args => DockerCli.Docker(berthd, args), theirs = args => dockerd.Docker(args);
        var differences = new List<string>();
        void Compare(params string[] step)
        {
            string o = Outcome(ours(step)), t = Outcome(theirs(step));
            if (o != t) differences.Add($"docker {string.Join(' ', step)}\n  berthd:  {o}\n  dockerd: {t}");
        }
        void WaitBoth(string name, string format, string want)
        {
            foreach (var docker in new[] { ours, theirs })
            {
                var clock = Stopwatch.StartNew();
                while (docker(["inspect", "--format", format, name]).Stdout.Trim() != want)
                {
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"{name}: {format} is not {want} within 90 s");
                    Thread.Sleep(100);
                }
            }
        }

        Compare("create", "--restart", "bogus", ContainerDaemon.One, "true");
        Compare("create", "--restart", "on-failure:-1", ContainerDaemon.One, "true");
        Compare("create", "--restart", "always:3", ContainerDaemon.One, "true");
        Compare("create", "--restart", "always", "--rm", ContainerDaemon.One, "true");
        Compare("create", "--health-cmd", "true", "--health-interval", "500us", ContainerDaemon.One, "true");
        Compare("create", "--health-cmd", "true", "--health-retries", "-1", ContainerDaemon.One, "true");

        Compare("run", "-d", "--name", "cmpr-onfail", "--restart", "on-failure:3", ContainerDaemon.One, "sh", "-c", "echo run; exit 1");
        WaitBoth("cmpr-onfail", "{{.State.Status}} {{.RestartCount}}", "exited 3");
        Compare("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{.State.Restarting}} {{json .HostConfig.RestartPolicy}}", "cmpr-onfail");
        Compare("logs", "cmpr-onfail");
        Compare("rm", "cmpr-onfail");

        Compare("run", "-d", "--name", "cmpr-health", "--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "1",
            ContainerDaemon.One, "sleep", "600");
        WaitBoth("cmpr-health", "{{.State.Health.Status}}", "unhealthy");
        Compare("inspect", "--format", "{{json .Config.Healthcheck}}", "cmpr-health");
        Compare("stop", "-t", "1", "cmpr-health");
        Compare("inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", "cmpr-health");
        Compare("rm", "cmpr-health");
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }
}
