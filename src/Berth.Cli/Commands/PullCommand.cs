using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth pull NAME[:TAG|@DIGEST]</c>: progress bars on a terminal, plain lines otherwise, then the reference.</summary>
public static class PullCommand
{
    public static Command Build(CliGlobals globals)
    {
        var name = new Argument<string>("NAME[:TAG|@DIGEST]");
        var platform = new Option<string?>("--platform") { Description = "pull for this platform (os[/arch[/variant]])" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "suppress verbose output" };
        var command = new Command("pull", "Download an image from a registry") { name, platform, quiet };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string reference = parse.GetValue(name)!;
            var (repository, tagOrDigest) = ImageReferenceText.Split(reference);
            bool isQuiet = parse.GetValue(quiet);
            if (tagOrDigest is null)
            {
                tagOrDigest = "latest";
                if (!isQuiet) Console.Out.WriteLine("Using default tag: latest");
            }
            var messages = client.PullAsync(repository, tagOrDigest, parse.GetValue(platform), RegistryAuth.For(repository), token);
            if (isQuiet) await ProgressDisplay.ShowPlainAsync(messages, TextWriter.Null, ct: token);
            else await ProgressDisplay.ShowAsync(messages, Console.Out, ProgressDisplay.IsTerminal, ct: token);
            Console.Out.WriteLine(tagOrDigest.Contains(':') ? $"{repository}@{tagOrDigest}" : $"{repository}:{tagOrDigest}");
            return 0;
        }, ct));
        return command;
    }
}
