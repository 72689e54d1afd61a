using System.CommandLine;
using System.Text.Json;
using Berth.Cgroups;

namespace Berth.Runtime.Cli.Commands;

/// <summary>`events`: with --stats one stats object (runc's shape) and exit; otherwise one every --interval until the container stops.</summary>
internal static class EventsCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var stats = new Option<bool>("--stats") { Description = "print the container's statistics once and exit" };
        var interval = new Option<string>("--interval") { Description = "time between stats events (5s, 500ms, 1m)", DefaultValueFactory = _ => "5s" };
        var c = new Command("events", "print container statistics as JSON events");
        c.Arguments.Add(id);
        c.Options.Add(stats);
        c.Options.Add(interval);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            var period = ParseDuration(p.GetValue(interval)!);
            var factory = new ContainerFactory(store, log.Warn);
            string name = p.GetValue(id)!;
            while (true)
            {
                CgroupStats data;
                // The lock is held only while reading, so other commands are not blocked between events.
                using (var container = factory.Load(name))
                {
                    if (!p.GetValue(stats) && container.Status() == ContainerStatus.Stopped)
                        return 0;
                    data = container.Stats();
                }
                var e = new StatsEvent { Id = name, Data = data };
                Console.WriteLine(JsonSerializer.Serialize(e, CgroupJsonContext.Default.StatsEvent));
                if (p.GetValue(stats))
                    return 0;
                Console.Out.Flush();
                Thread.Sleep(period);
            }
        }));
        return c;
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
