using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth import FILE|- [REPOSITORY[:TAG]]</c>: a rootfs tar as a one-layer image; prints its id.</summary>
public static class ImportCommand
{
    public static Command Build(CliGlobals globals, string name)
    {
        var file = new Argument<string>("file|-");
        var reference = new Argument<string?>("REPOSITORY[:TAG]") { Arity = ArgumentArity.ZeroOrOne };
        var changes = new Option<string[]>("--change", "-c") { Description = "apply a Dockerfile instruction to the created image" };
        var message = new Option<string?>("--message", "-m") { Description = "set the commit message for the imported image" };
        var command = new Command(name, "Import the contents from a tarball to create a filesystem image") { file, reference, changes, message };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string source = parse.GetValue(file)!;
            if (source.Contains("://", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"importing from a URL ({source}) is not supported: download it and import the file");
                return 1;
            }
            string? repository = null, tag = null;
            if (parse.GetValue(reference) is { Length: > 0 } r) (repository, tag) = ImageReferenceText.Split(r);
            await using Stream tar = source == "-" ? Console.OpenStandardInput() : File.OpenRead(source);
            var messages = client.ImportAsync(tar, repository, tag, parse.GetValue(changes) ?? [], parse.GetValue(message), token);
            await ProgressDisplay.ShowPlainAsync(messages, Console.Out, ct: token);
            return 0;
        }, ct));
        return command;
    }
}
