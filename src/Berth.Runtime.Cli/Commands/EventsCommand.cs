using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Berth.Cgroups;

namespace Berth.Runtime.Cli.Commands;

/// <summary>
/// `events`: with --stats one stats object (runc's shape) and exit. Otherwise a stream, as runc's: a stats
/// object every --interval and an {"type":"oom"} object whenever the OOM killer acts in the container, until
/// the container stops.
/// </summary>
internal static class EventsCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var stats = new Option<bool>("--stats") { Description = "print the container's statistics once and exit" };
        var interval = new Option<string>("--interval") { Description = "time between stats events (5s, 500ms, 1m)", DefaultValueFactory = _ => "5s" };
        var c = new Command("events", "print container statistics and OOM notifications as JSON events");
        c.Arguments.Add(id);
        c.Options.Add(stats);
        c.Options.Add(interval);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            var period = ParseDuration(p.GetValue(interval)!);
            var factory = new ContainerFactory(store, log.Warn);
            string name = p.GetValue(id)!;
            if (p.GetValue(stats))
            {
                using var container = factory.Load(name);
                Print(new StatsEvent { Id = name, Data = container.Stats() });
                return 0;
            }
            // The lock is held only while reading, so other commands are not blocked between events.
            OomNotifier oom;
            Linux.Fd initExit;
            using (var container = factory.Load(name))
                (oom, initExit) = container.WatchEvents();
            using (oom)
            using (initExit)
            {
                var clock = Stopwatch.StartNew();
                var next = period;
                while (true)
                {
                    switch (oom.Wait(next - clock.Elapsed, initExit))
                    {
                        case OomWait.Oom:
                            Print(new StatsEvent { Type = "oom", Id = name });
                            continue;
                        case OomWait.Ended:
                            return 0;
                    }
                    if (clock.Elapsed < next)
                        continue;
                    next += period;
                    using var container = factory.Load(name);
                    if (container.Status() == ContainerStatus.Stopped)
                        return 0;
                    Print(new StatsEvent { Id = name, Data = container.Stats() });
                }
            }
        }));
        return c;
    }

    static void Print(StatsEvent e)
    {
        Console.WriteLine(JsonSerializer.Serialize(e, CgroupJsonContext.Default.StatsEvent));
        Console.Out.Flush();
    }

    static TimeSpan ParseDuration(string text)
    {
        (string suffix, double scale)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double n)
                && n > 0)
                return TimeSpan.FromMilliseconds(n * scale);
        }
        throw new ContainerException($"--interval \"{text}\": not a positive duration such as 5s, 500ms or 1m");
    }
}
