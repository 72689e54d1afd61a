using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>
/// What berthd's containers produce, read through the real docker CLI: logs (tail, timestamps, since, until, follow
/// until the stop), ps with dockerd's filters and their error texts, stats, top, and the event stream.
/// </summary>
public class ContainerDataEndToEndTests(ContainerDaemon fixture) : IClassFixture<ContainerDaemon>
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    DaemonInstance Daemon => fixture.Daemon;

    ProcessResult Docker(params string[] args) => DockerCli.Docker(Daemon, args);

    static ProcessResult Ok(ProcessResult result) => DockerCli.Ok(result);

    static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [SkippableFact]
    public void Logs_tail_timestamps_since_and_until()
    {
        Ok(Docker("run", "--name", "cd-logs", ContainerDaemon.One, "sh", "-c", "echo one; sleep 1; echo two; sleep 1; echo three; echo err >&2"));
        var tail = Ok(Docker("logs", "--tail", "2", "-t", "cd-logs"));
        // The last two entries of the log, one on each stream.
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$", tail.Stdout);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z err\n$", tail.Stderr);

        var stamped = Lines(Ok(Docker("logs", "-t", "cd-logs")).Stdout);
        Assert.Equal(["one", "two", "three"], stamped.Select(l => l.Split(' ')[1]));
        string two = stamped[1].Split(' ')[0];
        Assert.Equal("two\nthree\n", Ok(Docker("logs", "--since", two, "cd-logs")).Stdout);
        Assert.Equal("one\ntwo\n", Ok(Docker("logs", "--until", two, "cd-logs")).Stdout);
        Assert.Equal("", Ok(Docker("logs", "--since", two, "cd-logs")).Stderr.Replace("err\n", ""));
        Ok(Docker("rm", "cd-logs"));
    }

    [SkippableFact]
    public void Logs_without_a_stream_is_400_with_dockerds_text()
    {
        string id = Ok(Docker("create", "--name", "cd-nostream", ContainerDaemon.One, "true")).Stdout.Trim();
        var result = Tools.Curl(Daemon.Socket, "-i", $"http://localhost/v1.41/containers/{id}/logs");
        Assert.Contains("HTTP/1.1 400", result.Stdout);
        Assert.Contains("Bad parameters: you must choose at least one stream", result.Stdout);
        Ok(Docker("rm", id));
    }

    [SkippableFact]
    public void Logs_follow_shows_new_lines_and_ends_when_the_container_is_stopped()
    {
        Ok(Docker("run", "-d", "--name", "cd-follow", ContainerDaemon.One, "sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 1; done"));
        using var follow = StartDocker("logs", "-f", "cd-follow");
        try
        {
            FollowUntilStopped(follow);
        }
        finally
        {
            // The stopgap runner's container outlives its berthd: never leave it running when an assertion failed.
            if (!follow.HasExited) follow.Kill();
            Docker("rm", "-f", "cd-follow");
        }
    }

    void FollowUntilStopped(Process follow)
    {
        var output = new StringBuilder();
        follow.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        follow.BeginOutputReadLine();
        // line3 is written at least two seconds after logs -f began: it came through the follow, not the first read.
        var deadline = Stopwatch.StartNew();
        while (!Text(output).Contains("line3") && deadline.Elapsed < Bound && !follow.HasExited) Thread.Sleep(100);
        Assert.True(Text(output).Contains("line3"), $"logs -f did not show line3 within {Bound.TotalSeconds} s (exited: {follow.HasExited}):\n{Text(output)}");
        Assert.False(follow.HasExited, "logs -f ended while the container still ran");

        Ok(Docker("stop", "-t", "1", "cd-follow"));
        bool ended = follow.WaitForExit((int)Bound.TotalMilliseconds);
        if (!ended) follow.Kill();
        Assert.True(ended, $"logs -f did not end within {Bound.TotalSeconds} s of the stop");
        follow.WaitForExit();
        Assert.Equal(0, follow.ExitCode);
        Assert.StartsWith("line0\nline1\nline2\nline3\n", Text(output));
    }

    static string Text(StringBuilder output)
    {
        lock (output) return output.ToString();
    }

    Process StartDocker(params string[] args)
    {
        var info = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-H", Daemon.Host, .. args]) info.ArgumentList.Add(a);
        info.Environment["DOCKER_CONFIG"] = Path.Combine(Daemon.Root, "docker-config");
        return Process.Start(info)!;
    }

    [SkippableFact]
    public void Ps_filters_by_status_label_name_and_exit_code()
    {
        string labelled = Ok(Docker("create", "--name", "cd-ps-labelled", "--label", "a=b", ContainerDaemon.One, "true")).Stdout.Trim();
        var run = Docker("run", "--name", "cd-ps-exited", ContainerDaemon.One, "sh", "-c", "exit 3");
        Assert.True(run.ExitCode == 3, run.ToString());
        string exited = Ok(Docker("inspect", "-f", "{{.Id}}", "cd-ps-exited")).Stdout.Trim();
        string running = Ok(Docker("run", "-d", "--name", "cd-ps-running", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        try
        {
            var exitedIds = Lines(Ok(Docker("ps", "--filter", "status=exited", "-q", "--no-trunc")).Stdout);
            Assert.Contains(exited, exitedIds);
            Assert.DoesNotContain(labelled, exitedIds);
            Assert.DoesNotContain(running, exitedIds);

            Assert.Equal(["cd-ps-labelled"], Lines(Ok(Docker("ps", "-a", "--filter", "label=a=b", "--format", "{{.Names}}")).Stdout));
            Assert.Equal(["cd-ps-labelled"], Lines(Ok(Docker("ps", "-a", "--filter", "label=a", "--format", "{{.Names}}")).Stdout));
            Assert.Empty(Lines(Ok(Docker("ps", "-a", "--filter", "label=a=c", "--format", "{{.Names}}")).Stdout));
            Assert.Equal(["cd-ps-running"], Lines(Ok(Docker("ps", "-a", "--filter", "name=cd-ps-run", "--format", "{{.Names}}")).Stdout));
            // Without -a, only running ones.
            Assert.Empty(Lines(Ok(Docker("ps", "--filter", "name=cd-ps-lab", "--format", "{{.Names}}")).Stdout));
            Assert.Equal(["cd-ps-exited"], Lines(Ok(Docker("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}")).Stdout));
            Assert.Equal(["cd-ps-running"], Lines(Ok(Docker("ps", "-a", "--filter", "since=cd-ps-exited", "--format", "{{.Names}}")).Stdout));
            Assert.Equal(["cd-ps-labelled"], Lines(Ok(Docker("ps", "-a", "--filter", "before=cd-ps-exited", "--filter", "name=cd-ps-", "--format", "{{.Names}}")).Stdout));
            Assert.Equal(["cd-ps-running", "cd-ps-exited"], Lines(Ok(Docker("ps", "-a", "--filter", "ancestor=" + ContainerDaemon.One, "--filter", "name=cd-ps-", "--filter", "status=running", "--filter", "status=exited", "--format", "{{.Names}}")).Stdout));
            Assert.Single(Lines(Ok(Docker("ps", "-a", "-n", "1", "-q")).Stdout));
        }
        finally
        {
            Docker("rm", "-f", labelled, exited, running);
        }
    }

    [SkippableTheory]
    [InlineData("nope=1", "Invalid filter 'nope'")]
    [InlineData("status=sleeping", "Invalid filter 'status=sleeping'")]
    [InlineData("health=fine", "Unrecognised filter value for health: fine")]
    public void A_bad_ps_filter_is_refused_with_dockerds_text(string filter, string message) =>
        DockerCli.Fails(Docker("ps", "-a", "--filter", filter), message);

    [SkippableFact]
    public void Stats_no_stream_shows_the_containers_memory_and_top_its_processes()
    {
        string id = Ok(Docker("run", "-d", "--name", "cd-stats", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        string stopped = Ok(Docker("create", "--name", "cd-stats-stopped", ContainerDaemon.One, "true")).Stdout.Trim();
        try
        {
            var row = Ok(Docker("stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}|{{.PIDs}}", "cd-stats")).Stdout.Trim();
            var fields = row.Split('|');
            Assert.True(fields.Length == 3 && fields[0] == "cd-stats", row);
            string usage = fields[1].Split(" / ")[0];
            Assert.Matches(@"^[0-9.]+(B|KiB|MiB)$", usage);
            Assert.True(double.Parse(Regex.Match(usage, @"^[0-9.]+").Value, CultureInfo.InvariantCulture) > 0, $"MEM USAGE is zero: {row}");
            Assert.Equal("1", fields[2]);

            var top = Lines(Ok(Docker("top", "cd-stats")).Stdout);
            Assert.Matches(@"^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$", top[0]);
            Assert.Equal(2, top.Length);
            Assert.EndsWith("sleep 600", top[1]);
            var pidTop = Lines(Ok(Docker("top", "cd-stats", "-o", "pid,comm")).Stdout);
            Assert.Matches(@"^\s*PID\s+COMMAND$", pidTop[0]);
            Assert.Matches(@"^\s*\d+\s+sleep$", pidTop[1]);

            DockerCli.Fails(Docker("top", "cd-stats-stopped"), $"Container {stopped} is not running");
            // A stopped container's one sample is dockerd's empty one.
            var empty = Tools.Curl(Daemon.Socket, $"http://localhost/v1.41/containers/{stopped}/stats?stream=0");
            var sample = JsonDocument.Parse(empty.Stdout).RootElement;
            Assert.Equal("/cd-stats-stopped", sample.GetProperty("name").GetString());
            Assert.Equal("0001-01-01T00:00:00Z", sample.GetProperty("read").GetString());
        }
        finally
        {
            Docker("rm", "-f", id, stopped);
        }
    }

    [SkippableFact]
    public void Stats_stream_carries_the_previous_sample_as_precpu()
    {
        string id = Ok(Docker("run", "-d", "--name", "cd-stats-stream", ContainerDaemon.One, "sh", "-c", "while :; do :; done")).Stdout.Trim();
        try
        {
            // Two samples of the stream (curl ends at its --max-time; what it got is kept).
            var result = Tools.Curl(Daemon.Socket, "--max-time", "3", $"http://localhost/v1.41/containers/{id}/stats");
            var samples = Lines(result.Stdout).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.True(samples.Count >= 2, result.ToString());
            Assert.Equal(samples[0].GetProperty("read").GetString(), samples[1].GetProperty("preread").GetString());
            ulong previous = samples[0].GetProperty("cpu_stats").GetProperty("cpu_usage").GetProperty("total_usage").GetUInt64();
            Assert.Equal(previous, samples[1].GetProperty("precpu_stats").GetProperty("cpu_usage").GetProperty("total_usage").GetUInt64());
            Assert.True(samples[1].GetProperty("cpu_stats").GetProperty("cpu_usage").GetProperty("total_usage").GetUInt64() > previous, "a spinning container used no CPU");
        }
        finally
        {
            Docker("rm", "-f", id);
        }
    }

    static string UnixNow() => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture);

    [SkippableFact]
    public void Events_since_until_list_a_containers_life_in_order()
    {
        string since = UnixNow();
        string id = Ok(Docker("create", "--name", "cd-events", "--label", "ev=1", ContainerDaemon.One, "sh", "-c", "exit 5")).Stdout.Trim();
        Ok(Docker("rename", "cd-events", "cd-events2"));
        Ok(Docker("start", "cd-events2"));
        Assert.Equal("5", Ok(Docker("wait", "cd-events2")).Stdout.Trim());
        Ok(Docker("rm", "cd-events2"));
        Thread.Sleep(50);
        string until = UnixNow();

        var events = Lines(Ok(Docker("events", "--since", since, "--until", until, "--filter", "container=" + id, "--format", "{{json .}}")).Stdout)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["create", "rename", "start", "die", "destroy"], events.Select(e => e.GetProperty("Action").GetString()));
        Assert.All(events, e => Assert.Equal(id, e.GetProperty("Actor").GetProperty("ID").GetString()));
        Assert.All(events, e => Assert.Equal(ContainerDaemon.One, e.GetProperty("Actor").GetProperty("Attributes").GetProperty("image").GetString()));
        Assert.All(events, e => Assert.Equal("1", e.GetProperty("Actor").GetProperty("Attributes").GetProperty("ev").GetString()));
        Assert.Equal("cd-events", events[0].GetProperty("Actor").GetProperty("Attributes").GetProperty("name").GetString());
        Assert.Equal("/cd-events", events[1].GetProperty("Actor").GetProperty("Attributes").GetProperty("oldName").GetString());
        Assert.Equal("cd-events2", events[1].GetProperty("Actor").GetProperty("Attributes").GetProperty("name").GetString());
        Assert.Equal("5", events[3].GetProperty("Actor").GetProperty("Attributes").GetProperty("exitCode").GetString());

        // Filtered by type: the image events of a tag and its removal.
        string imageSince = UnixNow();
        Ok(Docker("tag", ContainerDaemon.One, "cd/evtag:1"));
        Ok(Docker("rmi", "cd/evtag:1"));
        Thread.Sleep(50);
        var images = Lines(Ok(Docker("events", "--since", imageSince, "--until", UnixNow(), "--filter", "type=image", "--format", "{{.Action}} {{.Actor.Attributes.name}}")).Stdout);
        string imageId = Ok(Docker("image", "inspect", "-f", "{{.Id}}", ContainerDaemon.One)).Stdout.Trim();
        Assert.Equal(["tag cd/evtag:1", $"untag {imageId}"], images);

        // A load names the image by its id.
        string tar = Path.Combine(Daemon.Root, "cd-events.tar");
        Ok(Docker("save", "-o", tar, ContainerDaemon.One));
        string loadSince = UnixNow();
        Ok(Docker("load", "-i", tar));
        Thread.Sleep(50);
        var loads = Lines(Ok(Docker("events", "--since", loadSince, "--until", UnixNow(), "--filter", "event=load", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")).Stdout);
        Assert.Equal([$"image load {imageId} {imageId}"], loads);
        File.Delete(tar);
    }

    [SkippableFact]
    public void Events_stream_a_stop_as_kill_die_stop_while_they_happen()
    {
        string id = Ok(Docker("run", "-d", "--name", "cd-events-live", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        using var events = StartDocker("events", "--filter", "container=" + id, "--format", "{{.Action}} {{.Actor.Attributes.signal}}");
        var output = new StringBuilder();
        events.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        events.BeginOutputReadLine();
        try
        {
            // The subscription is made once the CLI has connected: a kill before that would not be seen live.
            Thread.Sleep(1000);
            Ok(Docker("stop", "-t", "1", id));
            var deadline = Stopwatch.StartNew();
            while (!Text(output).Contains("stop") && deadline.Elapsed < Bound) Thread.Sleep(100);
            // sleep as PID 1 ignores SIGTERM: SIGKILL follows after the timeout.
            Assert.Equal(["kill 15", "kill 9", "die <no value>", "stop <no value>"], Lines(Text(output)));
        }
        finally
        {
            if (!events.HasExited) events.Kill();
            Docker("rm", "-f", id);
        }
    }

    [SkippableFact]
    public void A_bad_events_query_is_400()
    {
        var result = Tools.Curl(Daemon.Socket, "-i", "http://localhost/v1.41/events?since=20&until=10");
        Assert.Contains("HTTP/1.1 400", result.Stdout);
        Assert.Contains("`since` time (20) cannot be after `until` time (10)", result.Stdout);
    }
}

/// <summary>The events of one container's life on berthd and on a private dockerd: the same actions with the same attribute keys.</summary>
public sealed class ContainerEventsDockerdTests(Dockerd.PrivateDockerd dockerd, ContainerDaemon berthd) : IClassFixture<Dockerd.PrivateDockerd>, IClassFixture<ContainerDaemon>
{
    static string UnixNow() => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>create, rename, start, kill, wait, rm with <paramref name="docker"/>; the events as "action key,key,...".</summary>
    static List<string> Life(Func<string[], ProcessResult> docker, string image, string name)
    {
        string since = UnixNow();
        string id = DockerCli.Ok(docker(["create", "--network", "none", "--name", name, "--label", "k=v", image, "sh", "-c", "trap 'exit 4' USR1; while :; do sleep 1; done"])).Stdout.Trim();
        DockerCli.Ok(docker(["rename", name, name + "-2"]));
        try
        {
            DockerCli.Ok(docker(["start", name + "-2"]));
            Thread.Sleep(1000);
            DockerCli.Ok(docker(["kill", "-s", "USR1", name + "-2"]));
            Assert.Equal("4", DockerCli.Ok(docker(["wait", name + "-2"])).Stdout.Trim());
            DockerCli.Ok(docker(["rm", name + "-2"]));
        }
        catch
        {
            docker(["rm", "-f", name + "-2"]);
            throw;
        }
        Thread.Sleep(50);
        var lines = DockerCli.Ok(docker(["events", "--since", since, "--until", UnixNow(), "--filter", "container=" + id, "--format", "{{json .}}"])).Stdout;
        return [.. lines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).Select(e =>
            e.GetProperty("Action").GetString() + " " + string.Join(',', e.GetProperty("Actor").GetProperty("Attributes").EnumerateObject()
                .Select(p => p.Name == "exitCode" || p.Name == "signal" || p.Name == "k" ? p.Name + "=" + p.Value.GetString() : p.Name)))];
    }

    [SkippableFact]
    public void A_containers_events_match_dockerds()
    {
        dockerd.SkipUnlessAvailable();
        var theirs = Life(args => dockerd.Docker(args), "bb", "ev-" + Guid.NewGuid().ToString("N")[..8]);
        var ours = Life(args => DockerCli.Docker(berthd.Daemon, args), ContainerDaemon.One, "ev-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.Equal(theirs, ours);
    }
}
