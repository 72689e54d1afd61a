using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]</c>.</summary>
public static class TagCommand
{
    public static Command Build(CliGlobals globals, string name)
    {
        var source = new Argument<string>("SOURCE_IMAGE[:TAG]");
        var target = new Argument<string>("TARGET_IMAGE[:TAG]");
        var command = new Command(name, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE") { source, target };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var (repository, tag) = ImageReferenceText.Split(parse.GetValue(target)!);
            await client.TagImageAsync(parse.GetValue(source)!, repository, tag ?? "latest", token);
            return 0;
        }, ct));
        return command;
    }
}
