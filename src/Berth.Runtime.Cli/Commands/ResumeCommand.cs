using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class ResumeCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var c = new Command("resume", "resume every process of a paused container");
        c.Arguments.Add(id);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            container.Resume();
            return 0;
        }));
        return c;
    }
}
