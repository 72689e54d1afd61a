using System.Text;
using System.Text.Json;

namespace Berth.Oci;

/// <summary>
/// Reads a bundle's config.json into a <see cref="Spec"/>. Only the shape is checked here (JSON syntax and
/// field types); the rules live in <see cref="SpecValidator"/>. Unknown fields are ignored, as runc ignores them.
/// </summary>
public static class SpecLoader
{
    public const string ConfigFileName = "config.json";

    public static Spec Load(string bundleDir) => LoadWithText(bundleDir).Spec;

    /// <summary>The bundle's spec and the text it was read from.</summary>
    public static (Spec Spec, string Json) LoadWithText(string bundleDir)
    {
        ArgumentNullException.ThrowIfNull(bundleDir);
        if (!Directory.Exists(bundleDir))
        {
            throw new SpecException(File.Exists(bundleDir)
                ? $"bundle {bundleDir}: not a directory"
                : $"bundle {bundleDir}: no such directory");
        }

        var path = Path.Combine(bundleDir, ConfigFileName);
        var json = ReadText(path, path);
        return (Parse(json, path), json);
    }

    /// <summary>
    /// The text of a file the user named (config.json, --process, --resources), or a <see cref="SpecException"/> that
    /// says why not in words, prefixed by <paramref name="what"/>: a directory is "is a directory", as runc says, not
    /// the framework's "access denied".
    /// </summary>
    public static string ReadText(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = Directory.Exists(path) ? "is a directory"
                : e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory"
                : e is UnauthorizedAccessException ? "permission denied"
                : e.Message;
            throw new SpecException($"{what}: cannot read: {why}", e);
        }
    }

    /// <summary>Parses config.json text; <paramref name="sourceName"/> (usually the file path) prefixes every error.</summary>
    public static Spec Parse(string json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (string.IsNullOrWhiteSpace(json))
            throw new SpecException($"{sourceName}: file is empty");

        Spec? spec;
        try
        {
            spec = SpecJsonReader.Read(Encoding.UTF8.GetBytes(json));
        }
        catch (SpecJsonException e)
        {
            throw new SpecException($"{sourceName}: {e.Message}", e.InnerException ?? e);
        }

        if (spec is null)
            throw new SpecException($"{sourceName}: config is null (expected a JSON object)");
        if (json.Contains("\\u0000", StringComparison.Ordinal))
        {
            // The deserializer took the text, under the same (default) reader options.
            using var document = JsonDocument.Parse(json);
            if (NulAt(document.RootElement, "$") is { } at)
                throw new SpecException($"{sourceName}: {at}: contains a NUL character, which no path, argument or name the kernel takes can hold");
        }
        return spec;
    }

    /// <summary>
    /// The JSON path of the first string or key holding a NUL, outside the annotations (opaque to the runtime); null
    /// when there is none. A NUL would cut a path or argument short on its way to the kernel, or make .NET refuse it
    /// later with "Null character in path." and no word of where.
    /// </summary>
    private static string? NulAt(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return element.GetString()!.Contains('\0') ? path : null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (NulAt(item, $"{path}[{i++}]") is { } found)
                        return found;
                }
                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var at = $"{path}.{property.Name.Replace("\0", "\\0", StringComparison.Ordinal)}";
                    if (at == "$.annotations")
                        continue;
                    if (property.Name.Contains('\0'))
                        return at;
                    if (NulAt(property.Value, at) is { } found)
                        return found;
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>
    /// A JSON error in spec terms, with 1-based line and column: System.Text.Json puts "Path: ... | LineNumber: ... |
    /// BytePositionInLine: ..." into its message and names .NET types.
    /// </summary>
    public static string DescribeJsonError(JsonException e)
    {
        var path = string.IsNullOrEmpty(e.Path) ? "$" : e.Path;
        long line = e.LineNumber ?? 0, column = e.BytePositionInLine ?? 0;
        var reason = StripLocation(e.Message);

        const string conversion = "The JSON value could not be converted to ";
        if (reason.StartsWith(conversion, StringComparison.Ordinal))
            return WrongType(path, line, column, Expected(reason[conversion.Length..].TrimEnd('.')));
        return Malformed(path, line, column, reason);
    }

    /// <summary>The sentence for a value of the wrong type at a JSON path (0-based line and byte in line).</summary>
    internal static string WrongType(string path, long line, long column, string expected) =>
        $"wrong type for {path} ({Where(line, column)}): expected {expected}";

    /// <summary>The sentence for text that is not JSON, with the reader's <paramref name="reason"/> (its location cut off).</summary>
    internal static string Malformed(string path, long line, long column, string reason) =>
        $"malformed JSON at {path} ({Where(line, column)}): {StripLocation(reason)}";

    static string Where(long line, long column) => $"line {line + 1}, column {column + 1}";

    private static string StripLocation(string message)
    {
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0)
            cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        var reason = (cut >= 0 ? message[..cut] : message).Trim();
        // Advice meant for the .NET caller, not for whoever wrote the config.
        return reason.Replace(" Change the reader options.", "", StringComparison.Ordinal);
    }

    private static string Expected(string dotnetType)
    {
        if (dotnetType.StartsWith("System.Nullable`1[", StringComparison.Ordinal))
            dotnetType = dotnetType["System.Nullable`1[".Length..].TrimEnd(']');
        if (dotnetType.StartsWith("System.Collections.Generic.List`1", StringComparison.Ordinal))
            return "an array";
        if (dotnetType.StartsWith("System.Collections.Generic.Dictionary`2", StringComparison.Ordinal))
            return "an object (a map)";
        return dotnetType switch
        {
            "System.String" => "a string",
            "System.Boolean" => "true or false",
            "System.Byte" => "an integer from 0 to 255",
            "System.UInt16" => "an integer from 0 to 65535",
            "System.UInt32" => "an integer from 0 to 4294967295",
            "System.UInt64" => "a non-negative integer",
            "System.Int32" => "a 32-bit integer",
            "System.Int64" => "a 64-bit integer",
            _ when dotnetType.StartsWith("Berth.Oci.", StringComparison.Ordinal) => "an object",
            _ => dotnetType,
        };
    }
}
