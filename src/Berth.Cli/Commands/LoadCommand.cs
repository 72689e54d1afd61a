using System.CommandLine;

namespace Berth.Cli.Commands;

/// <summary><c>berth load [-i FILE]</c>: a docker-save or OCI tar from a file or stdin.</summary>
public static class LoadCommand
{
    public static Command Build(CliGlobals globals, string name)
    {
        var input = new Option<string?>("--input", "-i") { Description = "read from tar archive file, instead of STDIN" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "suppress the load output" };
        var command = new Command(name, "Load an image from a tar archive or STDIN") { input, quiet };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string? path = parse.GetValue(input);
            if (path is null && !Console.IsInputRedirected)
            {
                Console.Error.WriteLine("requested load from stdin, but stdin is empty");
                return 1;
            }
            await using Stream tar = path is null ? Console.OpenStandardInput() : File.OpenRead(path);
            // As docker: the daemon is asked to be quiet when the output is not a terminal (no bars to draw).
            bool isQuiet = parse.GetValue(quiet) || !ProgressDisplay.IsTerminal;
            var messages = client.LoadAsync(tar, isQuiet, token);
            await ProgressDisplay.ShowAsync(messages, parse.GetValue(quiet) ? TextWriter.Null : Console.Out, terminal: false, ct: token);
            return 0;
        }, ct));
        return command;
    }
}
