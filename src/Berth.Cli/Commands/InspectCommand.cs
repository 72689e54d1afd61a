using System.CommandLine;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth inspect [-f TEMPLATE] [--type container|image] NAME...</c> (also <c>container inspect</c>): a container
/// first, then an image, as docker probes; an indented JSON array, or one rendered line per object with -f.
/// </summary>
public static class InspectCommand
{
    static readonly JsonWriterOptions Indented = new()
    {
        Indented = true,
        IndentSize = 4,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static Command Build(CliGlobals globals, string? onlyType)
    {
        var format = new Option<string?>("--format", "-f") { Description = "Format output using a custom template ('json' for the JSON)" };
        var type = new Option<string?>("--type") { Description = "Return JSON for specified type (container or image)" };
        var size = new Option<bool>("--size", "-s") { Description = "Display total file sizes if the type is container" };
        var names = new Argument<string[]>(onlyType == "container" ? "CONTAINER" : "NAME|ID") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", onlyType == "container"
            ? "Display detailed information on one or more containers" : "Return low-level information on Berth objects") { names, format, size };
        if (onlyType is null) command.Options.Add(type);
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string? kind = onlyType ?? parse.GetValue(type);
            if (kind is not (null or "container" or "image"))
                throw new FormatException($"\"{kind}\" is not a valid value for --type: berth inspects containers and images");
            string? fmt = parse.GetValue(format);
            var template = fmt is null or "json" ? null : GoTemplate.Parse(fmt.Replace("\\t", "\t").Replace("\\n", "\n"));
            List<JsonElement> found = [];
            List<string> errors = [];
            foreach (string name in parse.GetValue(names)!)
            {
                var json = await FindAsync(client, name, kind, parse.GetValue(size), token);
                if (json is null)
                {
                    errors.Add(kind switch { "container" => $"Error: No such container: {name}", "image" => $"Error: No such image: {name}", _ => $"Error: No such object: {name}" });
                    continue;
                }
                found.Add(json.Value);
            }
            if (template is null)
            {
                Console.Out.WriteLine(IndentedArray(found));
            }
            else
            {
                foreach (var json in found) Console.Out.WriteLine(template.Execute(json));
            }
            foreach (string error in errors) Console.Error.WriteLine(error);
            return errors.Count == 0 ? 0 : 1;
        }, ct));
        return command;
    }

    /// <summary>The object of that name: a container, else an image (unless the kind is fixed); null when neither exists.</summary>
    static async Task<JsonElement?> FindAsync(BerthClient client, string name, string? kind, bool size, CancellationToken ct)
    {
        if (kind is null or "container")
        {
            try
            {
                return await client.GetRawJsonAsync($"/containers/{name}/json" + (size ? "?size=1" : ""), ct);
            }
            catch (DaemonErrorException e) when (e.IsNotFound)
            {
            }
        }
        if (kind is null or "image")
        {
            try
            {
                return await client.GetRawJsonAsync($"/images/{name}/json", ct);
            }
            catch (DaemonErrorException e) when (e.IsNotFound)
            {
            }
        }
        return null;
    }

    internal static string IndentedArray(List<JsonElement> items)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Indented))
        {
            writer.WriteStartArray();
            foreach (var item in items) item.WriteTo(writer);
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
