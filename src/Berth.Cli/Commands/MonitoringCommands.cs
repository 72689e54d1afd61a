using System.Collections.Concurrent;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth top</c>, <c>stats</c>, <c>events</c> and <c>container prune</c>.</summary>
public static class MonitoringCommands
{
    public static Command Top(CliGlobals globals)
    {
        var container = new Argument<string>("CONTAINER");
        var psArgs = new Argument<string[]>("ps OPTIONS") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("top", "Display the running processes of a container") { container, psArgs };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var args = parse.GetValue(psArgs) ?? [];
            var top = await client.TopContainerAsync(parse.GetValue(container)!, args.Length > 0 ? string.Join(' ', args) : null, token);
            // docker's top table: a tabwriter with a minimum cell width of 20.
            var table = new TextTable([.. top.Titles]) { MinWidth = 20 };
            foreach (var process in top.Processes) table.Add([.. process]);
            table.WriteTo(Console.Out);
            return 0;
        }, ct));
        return command;
    }

    const string StatsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

    static readonly Dictionary<string, string> StatsHeaders = new()
    {
        ["Container"] = "CONTAINER", ["Name"] = "NAME", ["ID"] = "CONTAINER ID", ["CPUPerc"] = "CPU %", ["MemUsage"] = "MEM USAGE / LIMIT",
        ["MemPerc"] = "MEM %", ["NetIO"] = "NET I/O", ["BlockIO"] = "BLOCK I/O", ["PIDs"] = "PIDS",
    };

    /// <summary>
    /// <c>berth stats</c>: one table with --no-stream, else the table redrawn each second on a terminal (plain tables
    /// one after the other off it) until interrupted. Without names: the containers running when it starts.
    /// </summary>
    public static Command Stats(CliGlobals globals)
    {
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var noStream = new Option<bool>("--no-stream") { Description = "Disable streaming stats and only pull the first result" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate output" };
        var format = new Option<string?>("--format") { Description = "Format output using a custom template" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("stats", "Display a live stream of container(s) resource usage statistics") { containers, all, noStream, noTrunc, format };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var output = new FormattedOutput(parse.GetValue(format), StatsTable, f => StatsHeaders.TryGetValue(f, out var h) ? h : f.ToUpperInvariant());
            bool trunc = !parse.GetValue(noTrunc);
            List<string> names = [.. parse.GetValue(containers) ?? []];
            if (names.Count == 0)
                names = [.. (await client.ListContainersAsync(parse.GetValue(all), null, false, null, token)).Select(c => c.Id)];
            if (parse.GetValue(noStream))
            {
                var rows = new List<JsonElement>();
                int failed = 0;
                foreach (string name in names)
                {
                    try
                    {
                        await foreach (var sample in client.ContainerStatsAsync(name, stream: false, token))
                        {
                            rows.Add(StatsRow(sample, name, trunc));
                            break;
                        }
                    }
                    catch (DaemonErrorException e)
                    {
                        Console.Error.WriteLine(CliGlobals.Describe(e));
                        failed++;
                    }
                }
                output.Write(Console.Out, rows);
                return failed == 0 ? 0 : 1;
            }
            var latest = new ConcurrentDictionary<string, JsonElement>();
            var readers = names.Select(name => Task.Run(async () =>
            {
                try
                {
                    await foreach (var sample in client.ContainerStatsAsync(name, stream: true, token))
                        latest[name] = StatsRow(sample, name, trunc);
                }
                catch (Exception e) when (e is DaemonErrorException or IOException or HttpRequestException or OperationCanceledException)
                {
                    // A container that ends or goes away leaves the table; the others go on.
                }
                latest.TryRemove(name, out _);
            }, token)).ToList();
            bool terminal = !Console.IsOutputRedirected;
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), token).ContinueWith(_ => { }, CancellationToken.None);
                string text = output.Render(names.Where(latest.ContainsKey).Select(n => latest[n]));
                Console.Out.Write(terminal ? "\u001b[2J\u001b[H" + text : text);
                if (readers.All(r => r.IsCompleted)) break;
            }
            return 0;
        }, ct));
        return command;
    }

    /// <summary>One row as docker's stats formatter computes it (CPU % from the two samples, memory without the page cache).</summary>
    internal static JsonElement StatsRow(ContainerStatsResponse s, string asked, bool trunc)
    {
        double cpu = 0;
        double cpuDelta = (double)s.CpuStats.CpuUsage.TotalUsage - s.PreCpuStats.CpuUsage.TotalUsage;
        double systemDelta = (double)s.CpuStats.SystemCpuUsage - s.PreCpuStats.SystemCpuUsage;
        uint online = s.CpuStats.OnlineCpus;
        if (online == 0) online = (uint)(s.CpuStats.CpuUsage.PercpuUsage?.Count ?? 0);
        if (systemDelta > 0 && cpuDelta > 0) cpu = cpuDelta / systemDelta * online * 100.0;
        ulong used = MemoryUsed(s.MemoryStats);
        ulong limit = s.MemoryStats.Limit;
        double memPercent = limit != 0 ? (double)used / limit * 100.0 : 0;
        ulong rx = 0, tx = 0;
        foreach (var network in (s.Networks ?? []).Values)
        {
            rx += network.RxBytes;
            tx += network.TxBytes;
        }
        ulong read = 0, write = 0;
        foreach (var entry in s.BlkioStats.IoServiceBytesRecursive ?? [])
        {
            if (entry.Op.Length == 0) continue;
            if (char.ToLowerInvariant(entry.Op[0]) == 'r') read += entry.Value;
            else if (char.ToLowerInvariant(entry.Op[0]) == 'w') write += entry.Value;
        }
        string id = trunc && s.Id.Length > 12 ? s.Id[..12] : s.Id;
        return FormattedOutput.Object(new Dictionary<string, object?>
        {
            ["BlockIO"] = $"{HumanUnits.Size((long)read)} / {HumanUnits.Size((long)write)}",
            ["CPUPerc"] = cpu.ToString("0.00", CultureInfo.InvariantCulture) + "%",
            ["Container"] = asked,
            ["ID"] = id,
            ["MemPerc"] = memPercent.ToString("0.00", CultureInfo.InvariantCulture) + "%",
            ["MemUsage"] = $"{HumanUnits.BytesSize(used)} / {HumanUnits.BytesSize(limit)}",
            ["Name"] = s.Name.TrimStart('/'),
            ["NetIO"] = $"{HumanUnits.Size((long)rx)} / {HumanUnits.Size((long)tx)}",
            ["PIDs"] = s.PidsStats.Current.ToString(CultureInfo.InvariantCulture),
        });
    }

    /// <summary>The docker CLI's memory usage: usage minus inactive file pages (cgroup v1 total_inactive_file, v2 inactive_file).</summary>
    internal static ulong MemoryUsed(ContainerMemoryStats m)
    {
        var stats = m.Stats ?? [];
        if (stats.TryGetValue("total_inactive_file", out ulong v1) && v1 < m.Usage) return m.Usage - v1;
        if (stats.TryGetValue("inactive_file", out ulong v2) && v2 < m.Usage) return m.Usage - v2;
        return m.Usage;
    }

    /// <summary><c>berth events</c>: the daemon's events as docker prints them, or through --format, until --until or interrupted.</summary>
    public static Command Events(CliGlobals globals)
    {
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output based on conditions provided" };
        var format = new Option<string?>("--format") { Description = "Format the output using the given Go template ('json' for JSON lines)" };
        var since = new Option<string?>("--since") { Description = "Show all events created since timestamp" };
        var until = new Option<string?>("--until") { Description = "Stream events until this timestamp" };
        var command = new Command("events", "Get real time events from the server") { filter, format, since, until };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var now = DateTimeOffset.UtcNow;
            string? fmt = parse.GetValue(format);
            var template = fmt is null ? null : GoTemplate.Parse((fmt == "json" ? "{{json .}}" : fmt).Replace("\\t", "\t").Replace("\\n", "\n"));
            var messages = client.EventsAsync(
                parse.GetValue(since) is { } s ? FlagValues.Timestamp("--since", s, now) : null,
                parse.GetValue(until) is { } u ? FlagValues.Timestamp("--until", u, now) : null,
                ApiFilters.FromPairs(parse.GetValue(filter) ?? []), token);
            await foreach (var message in messages)
            {
                if (template is not null)
                {
                    var json = JsonSerializer.SerializeToElement(message, ApiJson.Context.EventMessage);
                    Console.Out.WriteLine(template.Execute(json));
                }
                else Console.Out.WriteLine(EventLine(message));
                Console.Out.Flush();
            }
            return 0;
        }, ct));
        return command;
    }

    /// <summary>docker's default event line: "TIME TYPE ACTION ID (k=v, ...)" with the time in RFC 3339 and fixed nanoseconds.</summary>
    internal static string EventLine(EventMessage message)
    {
        var time = DateTimeOffset.UnixEpoch.AddTicks(message.TimeNano / 100).ToLocalTime();
        long nanos = message.TimeNano % 1_000_000_000;
        string zone = time.Offset == TimeSpan.Zero ? "Z" : time.ToString("zzz", CultureInfo.InvariantCulture);
        string stamp = time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." + nanos.ToString("D9", CultureInfo.InvariantCulture) + zone;
        string line = $"{stamp} {message.Type} {message.Action} {message.Actor.ID}";
        if (message.Actor.Attributes is { Count: > 0 } attributes)
            line += " (" + string.Join(", ", attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}")) + ")";
        return line;
    }

    /// <summary><c>berth container prune</c>: asks first unless -f, then lists what went and the space reclaimed.</summary>
    public static Command Prune(CliGlobals globals)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var filter = new Option<string[]>("--filter") { Description = "Provide filter values (e.g. \"until=<timestamp>\")" };
        var command = new Command("prune", "Remove all stopped containers") { force, filter };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            if (!parse.GetValue(force) && !PruneOutput.Confirmed("This will remove all stopped containers.")) return 0;
            var report = await client.PruneContainersAsync(ApiFilters.FromPairs(parse.GetValue(filter) ?? []), token);
            PruneOutput.Deleted("Containers", report.ContainersDeleted);
            Console.Out.WriteLine("Total reclaimed space: " + HumanUnits.Size((long)report.SpaceReclaimed));
            return 0;
        }, ct));
        return command;
    }
}
