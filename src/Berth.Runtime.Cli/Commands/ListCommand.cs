using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class ListCommand
{
    public static Command Build(GlobalOptions g)
    {
        var format = new Option<string>("--format", "-f") { Description = "select one of: table or json", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var quiet = new Option<bool>("--quiet", "-q") { Description = "display only container IDs" };
        var c = new Command("list", "lists containers started by berth-runtime with the given root");
        c.Aliases.Add("ps-all");
        c.Options.Add(format);
        c.Options.Add(quiet);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            var states = new List<StateOutput>();
            var factory = new ContainerFactory(store, log.Warn);
            foreach (var id in store.Ids())
            {
                try
                {
                    using var container = factory.Load(id);
                    states.Add(StateOutput.From(container.OciState(), StateOutput.OwnerOf(store.DirFor(id))));
                }
                catch (Exception e) when (e is ContainerException or Berth.Linux.LinuxException)
                {
                    log.DebugLine($"skipping {id}: {e.Message}"); // deleted while we listed
                }
            }
            if (p.GetValue(quiet))
            {
                foreach (var s in states) Console.WriteLine(s.Id);
            }
            else if (p.GetValue(format) == "json")
            {
                StateOutput.WriteList(states);
            }
            else
            {
                PrintTable(states);
            }
            return 0;
        }));
        return c;
    }

    static void PrintTable(List<StateOutput> states)
    {
        string[] header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
        var rows = states.Select(s => new[]
        {
            s.Id, s.Pid.ToString(), s.Status, s.Bundle, s.Created, s.Owner,
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        void Print(string[] cells) =>
            Console.WriteLine(string.Join("   ", cells.Select((cell, i) => i == cells.Length - 1 ? cell : cell.PadRight(widths[i]))));
        Print(header);
        foreach (var r in rows) Print(r);
    }
}
