using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;
using Berth.Cgroups;
using Berth.Daemon.Containers;
using Berth.Engine.Logs;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Tests.Shared;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// berthd's logs reader, stats converter and top, each beside what a real dockerd 20.10 answers for the same
/// container on this host (as root; skipped with the reason when dockerd is not installed).
/// </summary>
public sealed class DockerdComparisonTests(PrivateDockerd dockerd) : IClassFixture<PrivateDockerd>
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    string Run(params string[] args) => PrivateDockerd.Check(dockerd.Docker(["run", "--network", "none", .. args])).Stdout.Trim();

    string Inspect(string container, string format) => PrivateDockerd.Check(dockerd.Docker("inspect", "-f", format, container)).Stdout.Trim();

    [SkippableFact]
    public void LogsReadBackAsDockerLogsPrintsThem()
    {
        dockerd.SkipUnlessAvailable();
        string name = "logs-" + Guid.NewGuid().ToString("N")[..8];
        Run("--name", name, "bb", "sh", "-c", "echo one; echo two >&2; sleep 1; printf '%020000d\\n' 0; echo three; echo four >&2; printf partial");
        string logPath = Inspect(name, "{{.LogPath}}");
        var all = JsonFileLogReader.Read(logPath, new LogReadOptions()).ToList();
        Assert.Equal(7, all.Count); // one, two, the 20001-byte line as two entries, three, four, partial
        string second = Query(all[1].UnixNanos), fifth = Query(all[4].UnixNanos);
        var queries = new (string[] Flags, LogReadOptions Options)[]
        {
            ([], new LogReadOptions()),
            (["--tail", "2"], new LogReadOptions { Tail = 2 }),
            (["--tail", "0"], new LogReadOptions { Tail = 0 }),
            (["--since", second], new LogReadOptions { SinceNanos = all[1].UnixNanos }),
            (["--until", second], new LogReadOptions { UntilNanos = all[1].UnixNanos }),
            (["--since", second, "--until", fifth], new LogReadOptions { SinceNanos = all[1].UnixNanos, UntilNanos = all[4].UnixNanos }),
            (["--tail", "3", "--until", fifth], new LogReadOptions { Tail = 3, UntilNanos = all[4].UnixNanos }),
        };
        foreach (var (flags, options) in queries)
        {
            var docker = PrivateDockerd.Check(dockerd.Docker(["logs", "-t", .. flags, name]));
            var ours = JsonFileLogReader.Read(logPath, options).ToList();
            Assert.True(docker.Stdout == Shown(ours, LogStream.Stdout), $"stdout of logs {string.Join(' ', flags)}:\n{docker.Stdout}\n--- ours:\n{Shown(ours, LogStream.Stdout)}");
            Assert.True(docker.Stderr == Shown(ours, LogStream.Stderr), $"stderr of logs {string.Join(' ', flags)}:\n{docker.Stderr}\n--- ours:\n{Shown(ours, LogStream.Stderr)}");
        }
    }

    [SkippableFact]
    public async Task FollowReadsEveryLineThroughDockerdsRotations()
    {
        dockerd.SkipUnlessAvailable();
        string name = "follow-" + Guid.NewGuid().ToString("N")[..8];
        Run("-d", "--name", name, "--log-opt", "max-size=1k", "--log-opt", "max-file=5", "bb",
            "sh", "-c", "sleep 1; i=0; while [ $i -lt 150 ]; do echo \"line $i\"; i=$((i+1)); usleep 20000; done");
        string logPath = Inspect(name, "{{.LogPath}}");
        var stopped = Task.Run(() => dockerd.Docker("wait", name));
        var lines = new List<string>();
        using var bound = new CancellationTokenSource(Bound);
        await foreach (var e in JsonFileLogReader.ReadAsync(logPath, new LogReadOptions { Follow = true }, stopped, bound.Token))
            lines.Add(Encoding.UTF8.GetString(e.Line.Span));
        Assert.False(bound.IsCancellationRequested, "follow did not end within 120 s of the container's start");
        Assert.True(File.Exists(logPath + ".1"), "dockerd did not rotate the log: the test proves nothing");
        Assert.Equal(Enumerable.Range(0, 150).Select(i => $"line {i}\n"), lines);
    }

    [SkippableFact]
    public async Task StatsHaveDockerdsFieldsAndTheCliShowsCpuAndMemory()
    {
        dockerd.SkipUnlessAvailable();
        Skip.IfNot(Directory.Exists("/sys/fs/cgroup/cpuacct"), "this comparison reads cgroup v1 controllers, as dockerd does on this hybrid host");
        string name = "stats-" + Guid.NewGuid().ToString("N")[..8];
        string id = Run("-d", "--name", name, "bb", "sh", "-c", "while :; do :; done");
        var paths = new[] { "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio" }
            .ToDictionary(c => c, c => $"/sys/fs/cgroup/{c}{dockerd.CgroupParent}/{id}");
        var first = HostCpu.Sample(StatsReader.Read(paths));
        await Task.Delay(1000);
        var second = HostCpu.Sample(StatsReader.Read(paths));
        ulong memTotal = HostCpu.MachineMemory(File.ReadAllText("/proc/meminfo"));
        var ours = JsonNode.Parse(JsonSerializer.Serialize(
            ContainerStatsConverter.Convert(id, name, cgroupV2: false, memTotal, second, first), ApiJson.Context.ContainerStatsResponse))!;
        var theirs = JsonNode.Parse(dockerd.Get($"/containers/{id}/stats?stream=false"))!;

        static SortedSet<string> Fields(JsonNode node) =>
            [.. JsonLeaves.Flatten(node).Keys.Select(k => System.Text.RegularExpressions.Regex.Replace(k, @"\[\d+\]", "[]"))];
        var (want, have) = (Fields(theirs), Fields(ours));
        Assert.True(want.SetEquals(have), $"dockerd only: {string.Join(", ", want.Except(have))}; Berth only: {string.Join(", ", have.Except(want))}");
        Assert.Equal((ulong)theirs["memory_stats"]!["limit"]!, (ulong)ours["memory_stats"]!["limit"]!);

        // The docker CLI's arithmetic on our output: CPU % and memory in use are not zero for a busy container.
        double cpuDelta = (double)(ulong)ours["cpu_stats"]!["cpu_usage"]!["total_usage"]! - (ulong)ours["precpu_stats"]!["cpu_usage"]!["total_usage"]!;
        double systemDelta = (double)(ulong)ours["cpu_stats"]!["system_cpu_usage"]! - (ulong)ours["precpu_stats"]!["system_cpu_usage"]!;
        double cpuPercent = cpuDelta / systemDelta * (uint)ours["cpu_stats"]!["online_cpus"]! * 100;
        Assert.InRange(cpuPercent, 5, 200.5); // one spinning shell on a shared 2-core machine
        ulong usage = (ulong)ours["memory_stats"]!["usage"]!, inactive = (ulong)ours["memory_stats"]!["stats"]!["total_inactive_file"]!;
        Assert.True(usage > inactive, $"memory usage {usage} is not above the inactive file pages {inactive}");
    }

    [SkippableFact]
    public void TopAnswersAsDockerdDoes()
    {
        dockerd.SkipUnlessAvailable();
        string name = "top-" + Guid.NewGuid().ToString("N")[..8];
        string id = Run("-d", "--name", name, "bb", "sh", "-c", "sleep 1000 & sleep 1000");
        // busybox sh execs the last command: sh and one sleep, once the shell has forked the first (run -d does not wait).
        string procs = $"/sys/fs/cgroup/pids{dockerd.CgroupParent}/{id}/cgroup.procs";
        Scenarios.PollUntil(() => File.ReadAllLines(procs).Length.ToString(), n => n == "2", 30, $"two processes in {procs}");
        var pids = File.ReadAllLines(procs).Select(int.Parse).ToList();

        string Ours(string? args) => JsonSerializer.Serialize(ContainerTop.Run(pids, args), ApiJson.Context.ContainerTopResponse);
        string Theirs(string args) => dockerd.Get($"/containers/{id}/top?ps_args={Uri.EscapeDataString(args)}").TrimEnd('\n');
        Assert.Equal(Theirs("-o pid,ppid,user,args"), Ours("-o pid,ppid,user,args"));
        var ef = JsonNode.Parse(Theirs(""))!;
        var ours = JsonNode.Parse(Ours(null))!;
        Assert.Equal(ef["Titles"]!.ToJsonString(), ours["Titles"]!.ToJsonString());
        Assert.Equal(ef["Processes"]!.AsArray().Select(p => (string)p![1]!), ours["Processes"]!.AsArray().Select(p => (string)p![1]!));
        var error = JsonNode.Parse(Tools.Curl(dockerd.Socket, $"http://dockerd/v1.41/containers/{id}/top?ps_args=-o%20comm").Stdout)!;
        Assert.Equal((string)error["message"]!, Assert.Throws<ContainerTopException>(() => ContainerTop.Run(pids, "-o comm")).Message);
    }

    static string Query(long unixNanos) => $"{unixNanos / 1_000_000_000}.{unixNanos % 1_000_000_000:D9}";

    static string Shown(IEnumerable<LogEntry> entries, LogStream stream) =>
        string.Concat(entries.Where(e => e.Stream == stream).Select(e => LogTimestamps.Format(e.UnixNanos) + " " + Encoding.UTF8.GetString(e.Line.Span)));
}
