using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>`ps` (json and table) and `events --stats` against a running container.</summary>
public sealed class PsEventsTests(ITestOutputHelper output) : ContainerTest(output)
{
    private void RunSleeper(JsonObject? resources = null)
    {
        var spec = Specs.Shell("sleep 1000 & sleep 1001 & wait");
        if (resources is not null)
            CgroupResourceTests.WithResources(spec, resources);
        Bundle.WriteConfig(spec);
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
    }

    [SkippableFact]
    public void PsJson_ListsTheContainersHostPids()
    {
        RunSleeper();
        int init = Pid();
        List<int> pids = [];
        Eventually(() =>
        {
            var ps = Runtime.Run("ps", "--format", "json", Id);
            Assert.True(ps.Succeeded, "ps failed: " + ps);
            pids = JsonNode.Parse(ps.Stdout)!.AsArray().Select(n => (int)n!).ToList();
            return pids.Count == 3;
        }, "init and both sleeps in ps --format json");

        Assert.Contains(init, pids);
        Assert.All(pids, pid => Assert.True(Directory.Exists($"/proc/{pid}"), $"pid {pid} is not a host process"));
    }

    [SkippableFact]
    public void PsTable_FiltersHostPsToTheContainer()
    {
        RunSleeper();
        Eventually(() => Runtime.Run("ps", Id).Stdout.Contains("sleep 1001"), "the second sleep to start");

        var ps = Runtime.Run("ps", Id, "--", "-o", "pid,args");

        Assert.True(ps.Succeeded, "ps failed: " + ps);
        var lines = ps.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal("PID", lines[0].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);
        Assert.Equal(4, lines.Length); // header, sh, two sleeps: no host process
        Assert.Contains(lines, l => l.Contains("sleep 1000"));
    }

    [SkippableFact]
    public void EventsStats_PrintsOneObjectWithRuncsFieldNames()
    {
        RunSleeper(new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 33554432 },
            ["pids"] = new JsonObject { ["limit"] = 16 },
        });
        // The shell forks its two sleeps after `run -d` returned: count them once they are there.
        Eventually(() => Runtime.Run("ps", "--format", "json", Id) is { Succeeded: true } ps && JsonNode.Parse(ps.Stdout)!.AsArray().Count == 3,
            "the container's shell to start its two sleeps");

        var events = Runtime.Run("events", "--stats", Id);

        Assert.True(events.Succeeded, "events --stats failed: " + events);
        var e = JsonNode.Parse(events.Stdout)!.AsObject();
        Assert.Equal("stats", (string)e["type"]!);
        Assert.Equal(Id, (string)e["id"]!);
        var data = e["data"]!.AsObject();
        Assert.Equal(["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"], data.Select(kv => kv.Key));
        Assert.True((ulong)data["cpu"]!["usage"]!["total"]! > 0);
        Assert.NotNull(data["cpu"]!["usage"]!["kernel"]);
        Assert.NotNull(data["cpu"]!["usage"]!["user"]);
        Assert.Equal(33554432UL, (ulong)data["memory"]!["usage"]!["limit"]!);
        Assert.True((ulong)data["memory"]!["usage"]!["usage"]! > 0);
        Assert.NotNull(data["memory"]!["raw"]!["rss"]);
        Assert.Equal(3UL, (ulong)data["pids"]!["current"]!);
        Assert.Equal(16UL, (ulong)data["pids"]!["limit"]!);
        Assert.Single(events.Stdout.Trim().Split('\n'));
    }

    [SkippableFact]
    public void EventsStats_OfAStoppedContainer_FailsClearly()
    {
        Bundle.WriteConfig(Specs.Shell("true"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        WaitForStatus("stopped");

        var events = Runtime.Run("events", "--stats", Id);

        Assert.False(events.Succeeded);
        Assert.Contains($"container {Id} is not running", events.Stderr);
    }
}
