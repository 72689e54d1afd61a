using System.CommandLine;
using System.Text.Json;
using Berth.Oci;

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
            var states = new List<Oci.State>();
            var factory = new ContainerFactory(store, log.Warn);
            foreach (var id in store.Ids())
            {
                try
                {
                    using var container = factory.Load(id);
                    states.Add(container.OciState());
                }
                catch (ContainerException e)
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
                Console.WriteLine(JsonSerializer.Serialize(states, OciJsonContext.Default.ListState));
            }
            else
            {
                PrintTable(states);
            }
            return 0;
        }));
        return c;
    }

    static void PrintTable(List<Oci.State> states)
    {
        string[] header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
        var rows = states.Select(s => new[]
        {
            s.Id, s.Pid.ToString(), s.Status, s.Bundle,
            s.Created?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'") ?? "", string.IsNullOrEmpty(s.Owner) ? "root" : s.Owner,
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        void Print(string[] cells) =>
            Console.WriteLine(string.Join("   ", cells.Select((cell, i) => i == cells.Length - 1 ? cell : cell.PadRight(widths[i]))));
        Print(header);
        foreach (var r in rows) Print(r);
    }
}
