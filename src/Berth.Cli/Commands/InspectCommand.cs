using System.CommandLine;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth inspect [-f TEMPLATE] [--type container|image|network|volume] NAME...</c> (also <c>container inspect</c>):
/// a container first, then an image, a network, a volume, as docker probes; an indented JSON array, or one rendered
/// line per object with -f.
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
        var type = new Option<string?>("--type") { Description = "Return JSON for specified type (container, image, network or volume)" };
        var size = new Option<bool>("--size", "-s") { Description = "Display total file sizes if the type is container" };
        var names = new Argument<string[]>(onlyType == "container" ? "CONTAINER" : "NAME|ID") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", onlyType == "container"
            ? "Display detailed information on one or more containers" : "Return low-level information on Berth objects") { names, format, size };
        if (onlyType is null) command.Options.Add(type);
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string? kind = onlyType ?? parse.GetValue(type);
            if (kind is not (null or "container" or "image" or "network" or "volume"))
                throw new FormatException($"\"{kind}\" is not a valid value for --type: berth inspects containers, images, networks and volumes");
            string? fmt = parse.GetValue(format);
            var template = fmt is null or "json" ? null : GoTemplate.Parse(fmt.Replace("\\t", "\t").Replace("\\n", "\n"));
            List<JsonElement> found = [];
            List<string> errors = [];
            foreach (string name in parse.GetValue(names)!)
            {
                var (json, daemonSays) = await FindAsync(client, name, kind, parse.GetValue(size), token);
                if (json is null)
                {
                    // docker names a missing container or image itself, and prints the daemon's sentence for the others.
                    errors.Add(kind switch
                    {
                        null => $"Error: No such object: {name}",
                        "container" or "image" => $"Error: No such {kind}: {name}",
                        _ => $"Error response from daemon: {daemonSays}",
                    });
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

    /// <summary>The object of that name: a container, else an image, a network, a volume (unless the kind is fixed); null
    /// when none exists, with the daemon's last "not found" sentence.</summary>
    static async Task<(JsonElement? Json, string NotFound)> FindAsync(BerthClient client, string name, string? kind, bool size, CancellationToken ct)
    {
        string notFound = "";
        (string Kind, string Path)[] probes =
        [
            ("container", $"/containers/{name}/json" + (size ? "?size=1" : "")),
            ("image", $"/images/{name}/json"),
            ("network", $"/networks/{name}"),
            ("volume", $"/volumes/{name}"),
        ];
        foreach (var (probeKind, path) in probes)
        {
            if (kind is not null && kind != probeKind) continue;
            try
            {
                return (await client.GetRawJsonAsync(path, ct), "");
            }
            catch (DaemonErrorException e) when (e.IsNotFound)
            {
                notFound = e.Message;
            }
        }
        return (null, notFound);
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
