using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

internal static class DeleteCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var force = new Option<bool>("--force", "-f") { Description = "forcibly delete the container if it is still running (uses SIGKILL)" };
        var c = new Command("delete", "delete a container and everything the runtime holds for it");
        c.Arguments.Add(id);
        c.Options.Add(force);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            string name = p.GetValue(id)!;
            ContainerId.Validate(name);
            var factory = new ContainerFactory(store, log.Warn);
            if (!p.GetValue(force))
            {
                using var container = factory.Load(name);
                container.Delete(force: false, log.Warn);
                return 0;
            }
            // runc: `delete --force` of a container that does not exist succeeds (the shim's second cleanup call),
            // also when another delete removed it while we waited for its lock.
            if (!Directory.Exists(store.DirFor(name)) || store.RemoveStaleClaim(name)) return 0;
            using var existing = factory.TryLoad(name);
            existing?.Delete(force: true, log.Warn);
            return 0;
        }));
        return c;
    }
}
