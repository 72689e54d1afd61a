using System.CommandLine;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth save [-o FILE] IMAGE...</c>: the tar to a file (written aside and renamed, so a failed save
/// leaves no partial file) or to stdout, which must not be a terminal.
/// </summary>
public static class SaveCommand
{
    public static Command Build(CliGlobals globals, string name)
    {
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "write to a file, instead of STDOUT" };
        var command = new Command(name, "Save one or more images to a tar archive (streamed to STDOUT by default)") { images, output };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string? path = parse.GetValue(output);
            if (path is null && !Console.IsOutputRedirected)
            {
                Console.Error.WriteLine("cowardly refusing to save to a terminal. Use the -o flag or redirect");
                return 1;
            }
            await using var tar = await client.SaveAsync(parse.GetValue(images)!, token);
            if (path is null)
            {
                await using var stdout = Console.OpenStandardOutput();
                await tar.CopyToAsync(stdout, token);
                return 0;
            }
            string full = Path.GetFullPath(path);
            string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
            try
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                    await tar.CopyToAsync(file, token);
                File.Move(temp, full, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
            return 0;
        }, ct));
        return command;
    }
}
