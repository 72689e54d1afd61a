using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class StateCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var c = new Command("state", "output the state of a container (OCI state JSON)");
        c.Arguments.Add(id);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            StateOutput.WriteIndented(StateOutput.From(container.OciState(), owner: ""));
            return 0;
        }));
        return c;
    }
}
