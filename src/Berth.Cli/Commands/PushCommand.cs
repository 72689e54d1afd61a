using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth push NAME[:TAG]</c>.</summary>
public static class PushCommand
{
    public static Command Build(CliGlobals globals)
    {
        var name = new Argument<string>("NAME[:TAG]");
        var quiet = new Option<bool>("--quiet", "-q") { Description = "suppress verbose output" };
        var command = new Command("push", "Upload an image to a registry") { name, quiet };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var (repository, tag) = ImageReferenceText.Split(parse.GetValue(name)!);
            bool isQuiet = parse.GetValue(quiet);
            if (tag is null)
            {
                tag = "latest";
                if (!isQuiet) Console.Out.WriteLine("Using default tag: latest");
            }
            var messages = client.PushAsync(repository, tag, RegistryAuth.For(repository), token);
            if (isQuiet)
            {
                await ProgressDisplay.ShowPlainAsync(messages, TextWriter.Null, ct: token);
                Console.Out.WriteLine($"{repository}:{tag}");
            }
            else await ProgressDisplay.ShowAsync(messages, Console.Out, ProgressDisplay.IsTerminal, ct: token);
            return 0;
        }, ct));
        return command;
    }
}
