using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth rmi IMAGE...</c> (also <c>image rm</c>): prints what was untagged and deleted; goes on past failures, exit 1 if any.</summary>
public static class RmiCommand
{
    public static Command Build(CliGlobals globals, string name)
    {
        var names = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "force removal of the image" };
        var noPrune = new Option<bool>("--no-prune") { Description = "do not delete untagged parents" };
        var command = new Command(name, "Remove one or more images") { names, force, noPrune };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            int status = 0;
            foreach (string image in parse.GetValue(names)!)
            {
                try
                {
                    foreach (var item in await client.RemoveImageAsync(image, parse.GetValue(force), parse.GetValue(noPrune), token))
                    {
                        if (item.Untagged is { } u) Console.Out.WriteLine($"Untagged: {u}");
                        if (item.Deleted is { } d) Console.Out.WriteLine($"Deleted: {d}");
                    }
                }
                catch (DaemonErrorException e)
                {
                    Console.Error.WriteLine(CliGlobals.Describe(e));
                    status = 1;
                }
            }
            return status;
        }, ct));
        return command;
    }
}
