using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Daemon.Tests.Infrastructure;
using static Berth.Daemon.Tests.Infrastructure.Scenarios;
using Berth.Images.Tests;

namespace Berth.Daemon.Tests;

/// <summary>
/// Health checks through the real docker CLI, on each exec driver: --health-cmd turning healthy and unhealthy (inspect's
/// State.Health, docker ps, the health_status events), a check that outlives its timeout, the image's HEALTHCHECK.
/// </summary>
public class HealthCheckTests(ContainerDaemon fixture) : DockerScenarioTests(fixture)
{
    string PsStatus(string name) => Ok(Docker("ps", "-a", "--filter", "name=^" + name + "$", "--format", "{{.Status}}")).Stdout.Trim();

    JsonElement Health(string name) => JsonDocument.Parse(Ok(Docker("inspect", "--format", "{{json .State.Health}}", name)).Stdout).RootElement;

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void A_health_cmd_turns_healthy_then_unhealthy_and_ps_shows_it(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "hc-turns-" + runtime;
        string since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString();
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, "--health-cmd", "test -f /tmp/ok && echo fine",
            "--health-interval", "200ms", "--health-retries", "2", "--health-timeout", "10s", ContainerDaemon.One,
            "sh", "-c", "touch /tmp/ok; exec sleep 600")).Stdout.Trim();
        try
        {
            PollUntil(() => Format("{{.State.Health.Status}}", name), s => s == "healthy", 60, "the container turns healthy");
            Assert.Matches(@"^Up .* \(healthy\)$", PsStatus(name));
            var health = Health(name);
            Assert.Equal(0, health.GetProperty("FailingStreak").GetInt32());
            var last = health.GetProperty("Log").EnumerateArray().Last();
            Assert.Equal(0, last.GetProperty("ExitCode").GetInt32());
            Assert.Equal("fine\n", last.GetProperty("Output").GetString());
            Assert.True(DateTimeOffset.Parse(last.GetProperty("End").GetString()!) >= DateTimeOffset.Parse(last.GetProperty("Start").GetString()!));

            Ok(Docker("exec", name, "busybox", "rm", "/tmp/ok"));
            PollUntil(() => Format("{{.State.Health.Status}}", name), s => s == "unhealthy", 60, "the container turns unhealthy");
            Assert.Matches(@"^Up .* \(unhealthy\)$", PsStatus(name));
            health = Health(name);
            Assert.True(health.GetProperty("FailingStreak").GetInt32() >= 2, health.ToString());
            Assert.InRange(health.GetProperty("Log").GetArrayLength(), 1, 5);
            PollUntil(() => Health(name).GetProperty("Log").GetArrayLength().ToString(), s => s == "5", 60, "the log keeps the last 5 results");
            Assert.Equal(1, Health(name).GetProperty("Log").EnumerateArray().Last().GetProperty("ExitCode").GetInt32());

            string[] events = Ok(Docker("events", "--since", since, "--until", DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(),
                "--filter", "container=" + name, "--format", "{{.Action}}")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["health_status: healthy", "health_status: unhealthy"], events.Where(e => e.StartsWith("health_status", StringComparison.Ordinal)));

            // The checks stop with the container.
            Ok(Docker("stop", "-t", "1", name));
            int logged = Health(name).GetProperty("Log").GetArrayLength();
            string lastEnd = Health(name).GetProperty("Log").EnumerateArray().Last().GetProperty("End").GetString()!;
            Thread.Sleep(1000);
            Assert.Equal(lastEnd, Health(name).GetProperty("Log").EnumerateArray().Last().GetProperty("End").GetString());
            Assert.Equal(logged, Health(name).GetProperty("Log").GetArrayLength());
        }
        finally
        {
            Ok(Docker("rm", "-f", name));
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableFact]
    public void Before_its_first_check_a_container_is_health_starting()
    {
        string name = "hc-starting";
        string id = Ok(Docker("run", "-d", "--name", name, "--health-cmd", "true", "--health-interval", "1h", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        try
        {
            Assert.Equal("starting 0", Format("{{.State.Health.Status}} {{.State.Health.FailingStreak}}", name));
            Assert.Matches(@"^Up .* \(health: starting\)$", PsStatus(name));
            Assert.Contains(name, Ok(Docker("ps", "--filter", "health=starting", "--format", "{{.Names}}")).Stdout);
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
    public void A_check_that_outlives_its_timeout_is_killed_and_fails(string runtime)
    {
        SkipWithoutRunc(runtime);
        string name = "hc-timeout-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, "--health-cmd", "echo begun; sleep 77",
            "--health-interval", "200ms", "--health-timeout", "500ms", "--health-retries", "1", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        try
        {
            PollUntil(() => Format("{{.State.Health.Status}}", name), s => s == "unhealthy", 60, "the container turns unhealthy");
            var last = Health(name).GetProperty("Log").EnumerateArray().First();
            Assert.Equal(-1, last.GetProperty("ExitCode").GetInt32());
            Assert.Equal("Health check exceeded timeout (500ms): begun\n", last.GetProperty("Output").GetString());
            // Each check's sleep is killed at its timeout: at most the one in flight is left.
            Thread.Sleep(1500);
            int sleeps = Ok(Docker("top", name)).Stdout.Split('\n').Count(l => l.Contains("sleep 77", StringComparison.Ordinal));
            Assert.InRange(sleeps, 0, 1);
        }
        finally
        {
            Ok(Docker("rm", "-f", name));
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableFact]
    public void The_images_HEALTHCHECK_runs_and_no_healthcheck_turns_it_off()
    {
        const string image = "ctest/health:1";
        var archive = new SaveArchiveBuilder();
        archive.Image([image], [BusyboxLayer.Tar()], configure: config => config["Healthcheck"] = new JsonObject
        {
            ["Test"] = new JsonArray("CMD-SHELL", "echo from-image"),
            ["Interval"] = 200_000_000L,
        });
        string file = Path.Combine(Daemon.Root, "health-image.tar");
        File.WriteAllBytes(file, archive.Build());
        Ok(Docker("load", "-i", file));
        string name = "hc-image", off = "hc-image-off";
        string id = Ok(Docker("run", "-d", "--name", name, image, "sleep", "600")).Stdout.Trim();
        string offId = Ok(Docker("run", "-d", "--name", off, "--no-healthcheck", image, "sleep", "600")).Stdout.Trim();
        try
        {
            PollUntil(() => Format("{{.State.Health.Status}}", name), s => s == "healthy", 60, "the image's HEALTHCHECK turns it healthy");
            Assert.Equal("from-image\n", Health(name).GetProperty("Log").EnumerateArray().Last().GetProperty("Output").GetString());
            Assert.Equal("<nil>", Format("{{.State.Health}}", off));
            Assert.Matches(@"^Up [^(]*$", PsStatus(off));
        }
        finally
        {
            Ok(Docker("rm", "-f", name, off));
            Ok(Docker("rmi", image));
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
        ContainerLeaks.AssertNothingLeft(Daemon, offId);
    }

    [SkippableFact]
    public void The_berth_cli_sets_the_restart_policy_and_the_health_check_and_its_ps_shows_the_health()
    {
        string name = "hc-berth-cli";
        ProcessResult Berth(params string[] args) => Tools.Run(Tools.Berth, args, new Dictionary<string, string> { ["BERTH_HOST"] = Daemon.Host });
        string id = Ok(Berth("run", "-d", "--name", name, "--restart", "on-failure:2", "--health-cmd", "test -d /tmp", "--health-interval", "200ms",
            "--health-retries", "4", "--health-timeout", "5s", "--health-start-period", "1s", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        try
        {
            Assert.Equal("{\"Name\":\"on-failure\",\"MaximumRetryCount\":2}", Format("{{json .HostConfig.RestartPolicy}}", name));
            Assert.Equal("{\"Test\":[\"CMD-SHELL\",\"test -d /tmp\"],\"Interval\":200000000,\"Timeout\":5000000000,\"StartPeriod\":1000000000,\"Retries\":4}",
                Format("{{json .Config.Healthcheck}}", name));
            PollUntil(() => Ok(Berth("ps", "--filter", "name=" + name, "--format", "{{.Status}}")).Stdout.Trim(), s => s.EndsWith("(healthy)", StringComparison.Ordinal),
                60, "berth ps shows the container healthy");
        }
        finally
        {
            Ok(Docker("rm", "-f", name));
        }
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableTheory]
    [InlineData("--health-interval=500us", "Interval in Healthcheck cannot be less than 1ms")]
    [InlineData("--health-timeout=500us", "Timeout in Healthcheck cannot be less than 1ms")]
    [InlineData("--health-start-period=500us", "StartPeriod in Healthcheck cannot be less than 1ms")]
    public void Too_short_durations_are_refused_as_dockerd_refuses_them(string flag, string message)
    {
        var before = Directory.GetDirectories(Path.Combine(Daemon.DataRoot, "containers")).Length;
        DockerCli.Fails(Docker("create", "--health-cmd", "true", flag, ContainerDaemon.One, "true"), message);
        Assert.Equal(before, Directory.GetDirectories(Path.Combine(Daemon.DataRoot, "containers")).Length);
    }
}
