using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class CreateCommand
{
    public static Command Build(GlobalOptions g)
    {
        var o = new CreateOptionsSet();
        var c = new Command("create", "create a container: set it up and wait, paused before the user's process, for start");
        o.AddTo(c);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            using var container = new ContainerFactory(store, log.Warn).Create(p.GetValue(o.Id)!, p.GetValue(o.Bundle)!, o.From(p));
            return 0;
        }));
        return c;
    }
}
