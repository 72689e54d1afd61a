using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class StartCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var c = new Command("start", "start the user's process in a created container");
        c.Arguments.Add(id);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            container.Start(log.Warn);
            return 0;
        }));
        return c;
    }
}
