using System.Text.Json;

namespace Berth.Cli;

/// <summary>
/// docker's <c>--format</c> for lists: "table" (the default columns), "table TEMPLATE" (a header from the fields, then
/// rows, aligned), "json" (one object per line), or a bare TEMPLATE (one line per row). <c>\t</c> and <c>\n</c> written
/// literally in the flag are taken as tab and newline, as docker does.
/// </summary>
public sealed class FormattedOutput
{
    readonly GoTemplate _template;
    readonly bool _table;
    readonly Func<string, string> _header;

    /// <exception cref="FormatException">The template does not parse.</exception>
    public FormattedOutput(string? format, string defaultTable, Func<string, string> header)
    {
        string text = string.IsNullOrEmpty(format) || format == "table" ? defaultTable : format == "json" ? "{{json .}}" : format;
        text = text.Replace("\\t", "\t").Replace("\\n", "\n");
        _table = text.StartsWith("table", StringComparison.Ordinal);
        if (_table) text = text["table".Length..].TrimStart(' ');
        _template = GoTemplate.Parse(text);
        _header = header;
    }

    public bool IsTable => _table;

    /// <summary>Whether the template uses <paramref name="field"/> (".Size" asks ps for sizes).</summary>
    public bool Uses(string field) => _template.Fields().Any(f => f == field || f.StartsWith(field + ".", StringComparison.Ordinal))
        || _template.Fields().Any(f => f.Length == 0);

    public void Write(TextWriter output, IEnumerable<JsonElement> rows)
    {
        if (!_table)
        {
            foreach (var row in rows) output.WriteLine(_template.Execute(row));
            return;
        }
        var table = new TextTable(_template.Header(_header).Split('\t')) { MinWidth = 10 };
        foreach (var row in rows) table.Add(_template.Execute(row).Split('\t'));
        table.WriteTo(output);
    }

    /// <summary>The rendered lines (a table's header first) without writing them.</summary>
    public string Render(IEnumerable<JsonElement> rows)
    {
        using var writer = new StringWriter();
        Write(writer, rows);
        return writer.ToString();
    }

    /// <summary>A JSON object from ordered name/value pairs, keys sorted as Go marshals a map.</summary>
    public static JsonElement Object(IEnumerable<KeyValuePair<string, object?>> fields)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in fields.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                switch (value)
                {
                    case null: writer.WriteNull(name); break;
                    case string s: writer.WriteString(name, s); break;
                    case bool b: writer.WriteBoolean(name, b); break;
                    case long n: writer.WriteNumber(name, n); break;
                    case int n: writer.WriteNumber(name, n); break;
                    case JsonElement e:
                        writer.WritePropertyName(name);
                        e.WriteTo(writer);
                        break;
                    default: writer.WriteString(name, value.ToString()); break;
                }
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }
}
