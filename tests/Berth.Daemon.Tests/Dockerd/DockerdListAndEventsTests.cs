using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;
using Berth.Daemon.Containers;
using Berth.Daemon.Events;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// docker ps's filters and docker events' JSON, each beside a real dockerd 20.10 on this host for the same containers
/// (as root; skipped with the reason when dockerd is not installed).
/// </summary>
public sealed class DockerdListAndEventsTests(PrivateDockerd dockerd) : IClassFixture<PrivateDockerd>
{
    readonly string _prefix = "ls" + Guid.NewGuid().ToString("N")[..6];

    [SkippableFact]
    public void PsListsWhatDockerdLists()
    {
        dockerd.SkipUnlessAvailable();
        // Oldest to newest: created only, exited 3, running, exited 0.
        PrivateDockerd.Check(dockerd.Docker("create", "--name", _prefix + "-c", "--network", "none", "--label", "a=1", "bb", "true"));
        Assert.Equal(3, dockerd.Docker("run", "--name", _prefix + "-x3", "--network", "none", "bb", "sh", "-c", "exit 3").ExitCode);
        string bindSource = Directory.CreateDirectory(Path.Combine(dockerd.Root, _prefix + "-bind")).FullName;
        PrivateDockerd.Check(dockerd.Docker("run", "-d", "--name", _prefix + "-r", "--network", "none", "--label", "a=2", "--label", "b",
            "-v", bindSource + ":/data", "bb", "sleep", "1000"));
        PrivateDockerd.Check(dockerd.Docker("run", "--name", _prefix + "-x0", "--network", "none", "bb", "true"));
        var entries = PrivateDockerd.Check(dockerd.Docker("ps", "-aq", "--no-trunc")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(Entry).Where(e => e.Names[0].StartsWith("/" + _prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(4, entries.Count);

        string[][] queries =
        [
            [], ["-a"], ["-n", "2"], ["-a", "-n", "3"], ["--filter", "status=exited"], ["--filter", "status=created"],
            ["-a", "--filter", "exited=3"], ["-a", "--filter", "exited=0"], ["--filter", "exited=0"], ["-a", "--filter", "label=a"],
            ["-a", "--filter", "label=a=2"], ["-a", "--filter", "label=a", "--filter", "label=b"], ["-a", "--filter", $"before={_prefix}-r"],
            ["-a", "--filter", $"since={_prefix}-x3"], ["--filter", $"since={_prefix}-x3"], ["-a", "--filter", "name=-x"],
            ["-a", "--filter", "health=none"], ["-a", "--filter", "ancestor=bb"], ["-a", "--filter", "ancestor=nosuch"],
            ["-a", "--filter", "network=none"], ["-a", "--filter", "is-task=false"], ["-a", "--filter", "status=running", "--filter", "status=created"],
            ["-a", "--filter", "foo=bar"], ["-a", "--filter", "status=bogus"], ["-a", "--filter", "exited=x"], ["-a", "--filter", "health=bad"],
            ["-a", "--filter", "before=nosuch"], ["-a", "--filter", "is-task=maybe"],
            ["-a", "--filter", "volume=/data"], ["-a", "--filter", "volume=" + bindSource], ["-a", "--filter", "volume=/nosuch"],
        ];
        foreach (var query in queries)
        {
            var docker = dockerd.Docker(["ps", "--format", "{{.Names}}", .. query]);
            string ours;
            try
            {
                var (all, limit, filters) = Parse(query);
                var filter = ContainerListFilter.Create(filters, all, limit,
                    s => entries.FirstOrDefault(e => e.Names[0] == "/" + s.TrimStart('/') || e.Id.StartsWith(s, StringComparison.Ordinal)),
                    image => image is "bb" or "bb:latest" ? entries[0].ImageId : null);
                ours = string.Concat(filter.Apply(entries).Select(e => e.Names[0].TrimStart('/') + "\n"));
            }
            catch (ContainerListFilterException e)
            {
                ours = "Error response from daemon: " + e.Message + "\n";
            }
            // dockerd lists other tests' containers too; only ours are compared.
            string theirs = docker.ExitCode == 0
                ? string.Concat(docker.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(n => n.StartsWith(_prefix, StringComparison.Ordinal)).Select(n => n + "\n"))
                : docker.Stderr;
            Assert.True(theirs == ours, $"docker ps {string.Join(' ', query)}:\n{theirs}--- ours:\n{ours}");
        }
    }

    [SkippableFact]
    public void EventsAreDockerdsJsonForTheSameContainer()
    {
        dockerd.SkipUnlessAvailable();
        string name = _prefix + "-ev";
        long since = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1;
        string id = PrivateDockerd.Check(dockerd.Docker("create", "--name", name, "--network", "none", "--label", "team=a", "bb", "sh", "-c", "exit 2")).Stdout.Trim();
        Assert.Equal(2, dockerd.Docker("start", "-a", name).ExitCode);
        PrivateDockerd.Check(dockerd.Docker("rm", name));
        long until = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1;
        Thread.Sleep(1500); // until must be past for dockerd to end the stream
        var theirs = PrivateDockerd.Check(dockerd.Docker("events", "--since", since.ToString(CultureInfo.InvariantCulture), "--until", until.ToString(CultureInfo.InvariantCulture),
                "--filter", "container=" + id, "--filter", "event=create", "--filter", "event=start", "--filter", "event=die", "--filter", "event=destroy", "--format", "{{json .}}"))
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

        var bus = new EventBus();
        bus.PublishContainer("create", id, "bb", name, new Dictionary<string, string> { ["team"] = "a" });
        bus.PublishContainer("start", id, "bb", name, new Dictionary<string, string> { ["team"] = "a" });
        bus.PublishContainer("die", id, "bb", name, new Dictionary<string, string> { ["team"] = "a" }, new Dictionary<string, string> { ["exitCode"] = "2" });
        bus.PublishContainer("destroy", id, "bb", name, new Dictionary<string, string> { ["team"] = "a" });
        using var sub = bus.Subscribe(ApiFilters.FromPairs(["container=" + id]), "0", null);
        var ours = sub.Past.Select(e => JsonNode.Parse(JsonSerializer.Serialize(e, ApiJson.Context.EventMessage))!.AsObject()).ToList();

        Assert.Equal(4, theirs.Count);
        for (int i = 0; i < 4; i++)
        {
            foreach (var json in new[] { theirs[i], ours[i] }) { json.Remove("time"); json.Remove("timeNano"); }
            Assert.Equal(theirs[i].ToJsonString(), ours[i].ToJsonString());
        }
    }

    ContainerListEntry Entry(string id)
    {
        var c = JsonNode.Parse(PrivateDockerd.Check(dockerd.Docker("inspect", id)).Stdout)![0]!;
        var started = DateTimeOffset.Parse((string)c["State"]!["StartedAt"]!, CultureInfo.InvariantCulture);
        return new ContainerListEntry(
            (string)c["Id"]!, ["" + (string)c["Name"]!], (string)c["Config"]!["Image"]!, (string)c["Image"]!,
            c["Config"]!["Labels"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!),
            (string)c["State"]!["Status"]!, (int)c["State"]!["ExitCode"]!, DateTimeOffset.Parse((string)c["Created"]!, CultureInfo.InvariantCulture),
            (string?)c["State"]!["Health"]?["Status"] ?? "none", started.Year == 1 ? null : started,
            c["NetworkSettings"]!["Networks"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!["NetworkID"]!),
            [.. c["Mounts"]!.AsArray().Select(m => new MountPoint
            {
                Type = (string)m!["Type"]!, Name = (string?)m["Name"], Source = (string)m["Source"]!, Destination = (string)m["Destination"]!,
            })]);
    }

    static (bool All, int Limit, ApiFilters Filters) Parse(string[] query)
    {
        bool all = false;
        int limit = 0;
        var pairs = new List<string>();
        for (int i = 0; i < query.Length; i++)
            switch (query[i])
            {
                case "-a": all = true; break;
                case "-n": limit = int.Parse(query[++i], CultureInfo.InvariantCulture); break;
                case "--filter": pairs.Add(query[++i]); break;
            }
        return (all, limit, ApiFilters.FromPairs(pairs));
    }
}
