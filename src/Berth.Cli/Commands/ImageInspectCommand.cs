using System.CommandLine;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth image inspect IMAGE...</c>: a JSON array of what was found; each unknown name is an error (exit 1).</summary>
public static class ImageInspectCommand
{
    static readonly ApiJsonContext Indented = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        IndentSize = 4,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static Command Build(CliGlobals globals)
    {
        var names = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", "Display detailed information on one or more images") { names };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            List<ImageInspect> found = [];
            List<string> errors = [];
            foreach (string name in parse.GetValue(names)!)
            {
                try
                {
                    found.Add(await client.InspectImageAsync(name, token));
                }
                catch (DaemonErrorException e) when (e.IsNotFound)
                {
                    errors.Add(CliGlobals.Describe(e));
                }
            }
            Console.Out.WriteLine(JsonSerializer.Serialize(found, Indented.ListImageInspect));
            foreach (string error in errors) Console.Error.WriteLine(error);
            return errors.Count == 0 ? 0 : 1;
        }, ct));
        return command;
    }
}
