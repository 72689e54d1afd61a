using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Berth.Daemon.Tests.Infrastructure;
using static Berth.Daemon.Tests.Infrastructure.Scenarios;

namespace Berth.Daemon.Tests;

/// <summary>
/// What berthd reports beside a private dockerd 20.10 on this machine for the same steps (the same image, both
/// without a bridge): a health probe's exec events and their filters, the <c>oom</c> event at the moment of the OOM
/// kill, and NetworkSettings for --network none, host and the default. Ids are compared as "set" or "empty".
/// </summary>
public class EventsAndNetworkDockerdComparisonTests(ContainerDaemon berth, ITestOutputHelper output) : IClassFixture<ContainerDaemon>
{
    DaemonInstance Berthd => berth.Daemon;

    PrivateDockerd StartDockerd(string what)
    {
        Skip.If(Tools.Which("dockerd") is null, "dockerd is not installed (apt-get install docker.io)");
        var dockerd = PrivateDockerd.Start(Path.Combine(Berthd.Root, "dockerd-" + what));
        DockerCli.Ok(dockerd.Docker("load", "-i", Path.Combine(Berthd.Root, "images.tar")));
        return dockerd;
    }

    static string Now() => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>An event's JSON without its times, each id (the container's, an exec's) as "&lt;id&gt;".</summary>
    static string Normalized(string line)
    {
        var json = JsonNode.Parse(line)!.AsObject();
        json.Remove("time");
        json.Remove("timeNano");
        return Regex.Replace(json.ToJsonString(), "[0-9a-f]{64}", "<id>");
    }

    /// <summary>docker events for one container from <paramref name="since"/> to now (until past, so that the stream ends), as normalized JSON lines.</summary>
    static List<string> Events(Func<string[], ProcessResult> docker, string container, string since, params string[] filters)
    {
        string until = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1).ToString(CultureInfo.InvariantCulture);
        Thread.Sleep(1100);
        return [.. DockerCli.Ok(docker(["events", "--since", since, "--until", until, "--filter", "container=" + container, "--filter", "type=container",
                .. filters.SelectMany(f => new[] { "--filter", f }), "--format", "{{json .}}"])).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Normalized)];
    }

    [SkippableFact]
    public void Health_probes_publish_dockerds_exec_events_before_health_status()
    {
        using var dockerd = StartDockerd("health-events");
        var daemons = new (string Name, Func<string[], ProcessResult> Docker)[] { ("berthd", a => DockerCli.Docker(Berthd, a)), ("dockerd", a => dockerd.Docker(a)) };
        var seen = new Dictionary<string, List<string>>();
        // A probe a second: what the test reads back stays within the last 256 events both daemons keep for --since.
        foreach (var (daemon, docker) in daemons)
        {
            string since = Now();
            DockerCli.Ok(docker(["run", "-d", "--network", "none", "--name", "he-ok", "--health-cmd", "echo hi", "--health-interval", "1s",
                ContainerDaemon.One, "sleep", "600"]));
            DockerCli.Ok(docker(["run", "-d", "--network", "none", "--name", "he-bad", "--health-cmd", "exit 3", "--health-interval", "1s",
                "--health-retries", "1", ContainerDaemon.One, "sleep", "600"]));
            foreach (var (name, status) in new[] { ("he-ok", "healthy"), ("he-bad", "unhealthy") })
            {
                PollUntil(() => docker(["inspect", "--format", "{{.State.Health.Status}}", name]).Stdout.Trim(), s => s == status, 60,
                    $"{name} turns {status} on {daemon}");
                var all = Events(docker, name, since);
                // From the start to the first health_status: one probe's three exec events, then the status.
                int first = all.FindIndex(e => e.Contains("\"health_status: ", StringComparison.Ordinal));
                Assert.True(first >= 0, $"no health_status event on {daemon}:\n{string.Join('\n', all)}");
                seen[$"{daemon} {name}"] = all[Math.Max(0, first - 4)..(first + 1)];
                foreach (var filter in new[] { "event=exec_create", "event=exec_start", "event=exec_die", "event=health_status" })
                    seen[$"{daemon} {name} {filter}"] = [.. Events(docker, name, since, filter).Take(1)];
            }
            // docker exec publishes the same three events.
            string sinceExec = Now();
            DockerCli.Ok(docker(["exec", "he-ok", "echo", "x"]));
            seen[$"{daemon} docker exec"] = Events(docker, "he-ok", sinceExec, "event=exec_create: echo x", "event=exec_start: echo x");
            DockerCli.Ok(docker(["rm", "-f", "he-ok", "he-bad"]));
        }
        var differences = seen.Keys.Where(k => k.StartsWith("dockerd ", StringComparison.Ordinal)).Select(k => k["dockerd ".Length..])
            .Where(k => !seen[$"berthd {k}"].SequenceEqual(seen[$"dockerd {k}"]))
            .Select(k => $"{k}:\n  berthd:  {string.Join("\n           ", seen[$"berthd {k}"])}\n  dockerd: {string.Join("\n           ", seen[$"dockerd {k}"])}");
        Assert.True(!differences.Any(), string.Join("\n", differences));
        // The comparison compared something: dockerd's probe events.
        Assert.Contains("\"Action\":\"exec_create: /bin/sh -c echo hi\"", seen["dockerd he-ok"][1]);
        Assert.Contains("\"exitCode\":\"3\"", seen["dockerd he-bad"][3]);
        Assert.Equal(2, seen["dockerd docker exec"].Count);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void The_oom_event_comes_when_the_OOM_killer_acts_as_dockerds(string runtime)
    {
        SkipWithoutRunc(runtime);
        using var dockerd = StartDockerd("oom-" + runtime);
        var daemons = new (string Name, Func<string[], ProcessResult> Docker, string[] Runtime)[]
        {
            ("berthd", a => DockerCli.Docker(Berthd, a), ["--runtime", runtime]), ("dockerd", a => dockerd.Docker(a), []),
        };
        var seen = new Dictionary<string, string>();
        bool dockerdMissedLiveOom = false;
        foreach (var (daemon, docker, runtimeArgs) in daemons)
        {
            // tail keeps the line it reads from /dev/zero, which has no newline, until the OOM killer ends it; the shell lives on.
            string since = Now();
            string name = "oom-live-" + runtime;
            DockerCli.Ok(docker(["run", "-d", .. runtimeArgs, "--network", "none", "--name", name, "-m", "8m", ContainerDaemon.One,
                "sh", "-c", "tail /dev/zero; exec sleep 600"]));
            // Read with the container's state and memory counters, which say what happened when no event came.
            try
            {
                PollUntil(() => string.Join(' ', Events(docker, name, since, "event=oom").Select(e => JsonNode.Parse(e)!["Action"]!.ToString())) + " | "
                        + docker(["inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name]).Stdout.Trim() + " | "
                        + docker(["exec", name, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.failcnt /sys/fs/cgroup/memory/memory.oom_control | tr '\\n' ' '"]).Stdout.Trim(),
                    s => s.StartsWith("oom |", StringComparison.Ordinal), 60, $"an oom event while {name} runs on {daemon}");
            }
            catch (Xunit.Sdk.TrueException e) when (daemon == "dockerd")
            {
                // dockerd 20.10 (containerd's shim watching the v1 eventfd) now and then publishes no oom event for a
                // kill that leaves the container running, though the cgroup counted it: its live case is then no
                // reference, and berthd's is held to what dockerd does when it publishes one (below).
                dockerdMissedLiveOom = true;
                output.WriteLine($"dockerd published no oom event for the kill in a running container, so that case is checked against dockerd's usual behaviour instead: {e.Message}");
            }
            seen[daemon + " running"] = docker(["inspect", "--format", "{{.State.Running}} {{.State.OOMKilled}} {{.State.ExitCode}}", name]).Stdout.Trim();
            DockerCli.Ok(docker(["kill", name]));
            PollUntil(() => docker(["inspect", "--format", "{{.State.Status}}", name]).Stdout.Trim(), s => s == "exited", 60, $"{name} exits on {daemon}");
            seen[daemon + " killed"] = docker(["inspect", "--format", "{{.State.Running}} {{.State.OOMKilled}} {{.State.ExitCode}}", name]).Stdout.Trim();
            seen[daemon + " events"] = string.Join("\n", Events(docker, name, since).Where(e => !e.Contains("\"Action\":\"exec_", StringComparison.Ordinal)));
            DockerCli.Ok(docker(["rm", name]));

            // The OOM killer ends the container's init: oom, then die.
            since = Now();
            name = "oom-init-" + runtime;
            Assert.Equal(137, docker(["run", .. runtimeArgs, "--network", "none", "--name", name, "-m", "8m", ContainerDaemon.One, "sh", "-c", "tail /dev/zero"]).ExitCode);
            seen[daemon + " init killed"] = docker(["inspect", "--format", "{{.State.Running}} {{.State.OOMKilled}} {{.State.ExitCode}}", name]).Stdout.Trim();
            seen[daemon + " init events"] = string.Join("\n", Events(docker, name, since));
            DockerCli.Ok(docker(["rm", name]));
        }
        // The same for the kill of the container's init: dockerd now and then shows neither the oom event nor OOMKilled.
        bool dockerdMissedInitOom = !seen["dockerd init events"].Contains("\"Action\":\"oom\"", StringComparison.Ordinal);
        if (dockerdMissedInitOom)
            output.WriteLine($"dockerd published no oom event for the kill of a container's init, so that case is checked against dockerd's usual behaviour instead: {seen["dockerd init killed"]}");
        string[] live = ["running", "killed", "events"], init = ["init killed", "init events"];
        var differences = seen.Keys.Where(k => k.StartsWith("dockerd ", StringComparison.Ordinal)).Select(k => k["dockerd ".Length..])
            .Where(k => !(dockerdMissedLiveOom && live.Contains(k)) && !(dockerdMissedInitOom && init.Contains(k)))
            .Where(k => seen[$"berthd {k}"] != seen[$"dockerd {k}"])
            .Select(k => $"{k}:\n  berthd:  {seen[$"berthd {k}"]}\n  dockerd: {seen[$"dockerd {k}"]}");
        Assert.True(!differences.Any(), string.Join("\n", differences));
        Assert.Equal("true false 0", seen[(dockerdMissedLiveOom ? "berthd" : "dockerd") + " running"]); // dockerd 20.10 sets OOMKilled at the exit only
        if (dockerdMissedLiveOom)
        {
            Assert.Equal("false true 137", seen["berthd killed"]);
            var actions = seen["berthd events"].Split('\n').Select(e => JsonNode.Parse(e)!["Action"]!.ToString()).ToList();
            Assert.True(actions.IndexOf("oom") > actions.IndexOf("start") && actions.IndexOf("oom") < actions.IndexOf("kill"),
                $"berthd's events of the running container, oom between start and kill: {string.Join(", ", actions)}");
        }
        if (dockerdMissedInitOom)
        {
            Assert.Equal("false true 137", seen["berthd init killed"]);
            Assert.Equal(["create", "attach", "start", "oom", "die"],
                seen["berthd init events"].Split('\n').Select(e => JsonNode.Parse(e)!["Action"]!.ToString()));
        }
    }

    [SkippableFact]
    public void NetworkSettings_in_inspect_and_list_are_dockerds_for_none_host_and_the_default()
    {
        using var dockerd = StartDockerd("network-settings");
        var daemons = new (string Name, Func<string[], ProcessResult> Docker, string Socket)[]
        {
            ("berthd", a => DockerCli.Docker(Berthd, a), Berthd.Socket), ("dockerd", a => dockerd.Docker(a), dockerd.Socket),
        };
        var seen = new Dictionary<string, string>();
        foreach (var (daemon, docker, socket) in daemons)
        {
            foreach (var mode in new[] { "none", "host", "default" })
            {
                string[] network = mode == "default" ? [] : ["--network", mode];
                DockerCli.Ok(docker(["create", .. network, "--name", "ns-created-" + mode, ContainerDaemon.One, "sleep", "600"]));
                DockerCli.Ok(docker(["run", "-d", .. network, "--name", "ns-running-" + mode, ContainerDaemon.One, "sleep", "600"]));
                DockerCli.Ok(docker(["run", "-d", .. network, "--name", "ns-stopped-" + mode, ContainerDaemon.One, "sleep", "600"]));
                DockerCli.Ok(docker(["kill", "ns-stopped-" + mode]));
                // Both daemons' SIGKILL answers once the exit is recorded; the wait is kept as a bound on a slow exit.
                docker(["wait", "ns-stopped-" + mode]);
                foreach (var state in new[] { "created", "running", "stopped" })
                {
                    string name = $"ns-{state}-{mode}";
                    var inspect = JsonNode.Parse(DockerCli.Ok(Tools.Curl(socket, $"http://localhost/v1.41/containers/{name}/json")).Stdout)!;
                    seen[$"{daemon} inspect {name}"] = Shape(inspect["NetworkSettings"]!);
                    var list = JsonNode.Parse(DockerCli.Ok(Tools.Curl(socket, "http://localhost/v1.41/containers/json?all=1&filters=" +
                        Uri.EscapeDataString($"{{\"name\":[\"^/{name}$\"]}}"))).Stdout)!.AsArray();
                    Assert.Single(list);
                    seen[$"{daemon} list {name}"] = Shape(list[0]!["NetworkSettings"]!);
                    // docker ps --filter network= reads the same Networks.
                    seen[$"{daemon} ps network={mode} {name}"] = docker(["ps", "-a", "--filter", "network=" + (mode == "default" ? "bridge" : mode),
                        "--filter", "name=^" + name + "$", "--format", "{{.Names}} {{.Networks}}"]).Stdout.Trim();
                }
            }
            DockerCli.Ok(docker(["rm", "-f", .. new[] { "none", "host", "default" }.SelectMany(m => new[] { "created", "running", "stopped" }.Select(s => $"ns-{s}-{m}"))]));
        }
        var differences = seen.Keys.Where(k => k.StartsWith("dockerd ", StringComparison.Ordinal)).Select(k => k["dockerd ".Length..])
            .Where(k => seen[$"berthd {k}"] != seen[$"dockerd {k}"])
            .Select(k => $"{k}:\n  berthd:  {seen[$"berthd {k}"]}\n  dockerd: {seen[$"dockerd {k}"]}");
        Assert.True(!differences.Any(), string.Join("\n", differences));
        Assert.Contains("\"none\":{", seen["dockerd inspect ns-running-none"]);
        Assert.Contains("\"NetworkID\":\"<id>\"", seen["dockerd inspect ns-running-none"]);
    }

    /// <summary>The JSON with every 64-hex id as "&lt;id&gt;" and the sandbox's path as "&lt;path&gt;" when set (each engine has its own).</summary>
    static string Shape(JsonNode settings)
    {
        if (settings is JsonObject o && o["SandboxKey"] is JsonValue key && key.ToString().Length > 0) o["SandboxKey"] = "<path>";
        return Regex.Replace(settings.ToJsonString(), "[0-9a-f]{64}", "<id>");
    }
}
