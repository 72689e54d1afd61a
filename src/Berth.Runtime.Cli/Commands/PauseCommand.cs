using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class PauseCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var c = new Command("pause", "suspend every process in the container (cgroup freezer)");
        c.Arguments.Add(id);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            container.Pause();
            return 0;
        }));
        return c;
    }
}
