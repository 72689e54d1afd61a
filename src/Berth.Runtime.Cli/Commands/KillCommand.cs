using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class KillCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var signal = new Argument<string>("signal") { Description = "a name (KILL, SIGKILL) or a number (9); default SIGTERM", DefaultValueFactory = _ => "SIGTERM" };
        var all = new Option<bool>("--all", "-a") { Description = "send the signal to all processes in the container" };
        var c = new Command("kill", "send a signal to the container's init process");
        c.Arguments.Add(id);
        c.Arguments.Add(signal);
        c.Options.Add(all);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            int sig = Signals.Parse(p.GetValue(signal)!);
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            container.Signal(sig, p.GetValue(all));
            return 0;
        }));
        return c;
    }
}
