using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Berth.Cli;

/// <summary>
/// The subset of Go's text/template that docker's <c>--format</c> and <c>-f</c> are used with, evaluated over JSON:
/// text and <c>{{pipeline}}</c> actions where a pipeline is commands joined by <c>|</c>; a command is a field path
/// (<c>.</c>, <c>.State.ExitCode</c>), a string literal, or one of the functions <c>json</c>, <c>upper</c>, <c>lower</c>,
/// <c>title</c>, <c>index X "key"</c>, <c>join X "sep"</c>, <c>len X</c>, <c>println X</c>. Anything else (if, range,
/// variables) is refused with an error naming it.
/// </summary>
public sealed class GoTemplate
{
    abstract record Node;
    sealed record Text(string Value) : Node;
    sealed record Action(List<List<string>> Pipeline, string Source) : Node;

    readonly List<Node> _nodes;

    GoTemplate(List<Node> nodes) => _nodes = nodes;

    /// <exception cref="FormatException">A template this subset does not parse; names the action.</exception>
    public static GoTemplate Parse(string template)
    {
        var nodes = new List<Node>();
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                nodes.Add(new Text(template[i..]));
                break;
            }
            if (open > i) nodes.Add(new Text(template[i..open]));
            int close = template.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) throw new FormatException($"template parsing error: unclosed action at offset {open} of \"{template}\"");
            string source = template[(open + 2)..close];
            bool trimLeft = source.StartsWith('-') && source.Length > 1 && source[1] == ' ';
            bool trimRight = source.EndsWith(" -", StringComparison.Ordinal);
            if (trimLeft && nodes.Count > 0 && nodes[^1] is Text t) nodes[^1] = new Text(t.Value.TrimEnd());
            source = source.Trim();
            if (trimLeft) source = source[1..].Trim();
            if (trimRight) source = source[..^1].Trim();
            nodes.Add(new Action(ParsePipeline(source), source));
            i = close + 2;
            if (trimRight) while (i < template.Length && char.IsWhiteSpace(template[i])) i++;
        }
        return new GoTemplate(nodes);
    }

    static List<List<string>> ParsePipeline(string source)
    {
        if (source.Length == 0) throw new FormatException("template parsing error: missing value for command");
        var commands = new List<List<string>>();
        var words = new List<string>();
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == '|')
            {
                commands.Add(words);
                words = [];
                i++;
                continue;
            }
            if (c == '"')
            {
                int end = i + 1;
                var literal = new StringBuilder("\"");
                while (end < source.Length && source[end] != '"')
                {
                    if (source[end] == '\\' && end + 1 < source.Length)
                    {
                        end++;
                        literal.Append(source[end] switch { 'n' => '\n', 't' => '\t', var o => o });
                    }
                    else literal.Append(source[end]);
                    end++;
                }
                if (end >= source.Length) throw new FormatException($"template parsing error: unterminated quoted string in {{{{{source}}}}}");
                words.Add(literal.ToString());
                i = end + 1;
                continue;
            }
            int start = i;
            while (i < source.Length && !char.IsWhiteSpace(source[i]) && source[i] != '|') i++;
            string word = source[start..i];
            if (word is "if" or "range" or "with" or "end" or "else" or "define" or "template" or "block" || word.StartsWith('$'))
                throw new FormatException($"template: \"{word}\" is not supported by berth's --format (fields, json, upper, lower, title, index, join, len, println only)");
            words.Add(word);
        }
        commands.Add(words);
        if (commands.Any(c => c.Count == 0)) throw new FormatException($"template parsing error: missing command in {{{{{source}}}}}");
        return commands;
    }

    /// <summary>The text for <paramref name="data"/>.</summary>
    /// <exception cref="FormatException">A field the data does not have, or a function on the wrong kind of value.</exception>
    public string Execute(JsonElement data)
    {
        var output = new StringBuilder();
        foreach (var node in _nodes)
        {
            if (node is Text t) output.Append(t.Value);
            else if (node is Action a) output.Append(Print(Evaluate(a, data)));
        }
        return output.ToString();
    }

    /// <summary>The field paths the template uses (".ID" → "ID", "." → "").</summary>
    public IEnumerable<string> Fields() =>
        _nodes.OfType<Action>().SelectMany(a => a.Pipeline).SelectMany(c => c).Where(w => w.StartsWith('.')).Select(w => w[1..]);

    /// <summary>The template with each action replaced by <paramref name="header"/> of its first field (docker's table headers).</summary>
    public string Header(Func<string, string> header)
    {
        var output = new StringBuilder();
        foreach (var node in _nodes)
        {
            if (node is Text t) output.Append(t.Value);
            else if (node is Action a)
            {
                string? field = a.Pipeline.SelectMany(c => c).FirstOrDefault(w => w.StartsWith('.'));
                output.Append(field is null or "." ? "" : header(field[1..]));
            }
        }
        return output.ToString();
    }

    static object? Evaluate(Action action, JsonElement data)
    {
        object? value = null;
        bool first = true;
        foreach (var command in action.Pipeline)
        {
            var args = command.Skip(1).Select(w => Operand(w, data, action.Source)).ToList();
            if (!first) args.Add(value);
            first = false;
            string head = command[0];
            value = head switch
            {
                "json" => Json(One(args, head)),
                "upper" => Print(One(args, head)).ToUpperInvariant(),
                "lower" => Print(One(args, head)).ToLowerInvariant(),
                "title" => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(Print(One(args, head))),
                "println" => string.Join(' ', args.Select(Print)) + "\n",
                "len" => One(args, head) is JsonElement { ValueKind: JsonValueKind.Array } arr ? arr.GetArrayLength()
                    : One(args, head) is JsonElement { ValueKind: JsonValueKind.Object } obj ? obj.EnumerateObject().Count()
                    : Print(One(args, head)).Length,
                "index" => Index(args, action.Source),
                "join" => Join(args, action.Source),
                _ when command.Count == 1 => Operand(head, data, action.Source),
                _ => throw new FormatException($"template: function \"{head}\" not defined (in {{{{{action.Source}}}}})"),
            };
        }
        return value;
    }

    static object? One(List<object?> args, string function) =>
        args.Count == 1 ? args[0] : throw new FormatException($"template: wrong number of args for {function}: want 1 got {args.Count}");

    static object? Operand(string word, JsonElement data, string source)
    {
        if (word.StartsWith('"')) return word[1..];
        if (word == ".") return data;
        if (word.StartsWith('.'))
        {
            JsonElement current = data;
            foreach (string field in word[1..].Split('.'))
            {
                if (current.ValueKind != JsonValueKind.Object)
                    throw new FormatException($"template: executing \"\" at <{word}>: can't evaluate field {field} in a {Kind(current)}");
                if (!current.TryGetProperty(field, out var next) && !TryGetIgnoringCase(current, field, out next))
                    throw new FormatException($"template: executing \"\" at <{word}>: map has no entry for key \"{field}\"");
                current = next;
            }
            return current;
        }
        if (long.TryParse(word, NumberStyles.Integer, CultureInfo.InvariantCulture, out long number)) return number;
        if (word is "true" or "false") return word == "true";
        throw new FormatException($"template: function \"{word}\" not defined (in {{{{{source}}}}})");
    }

    /// <summary>
    /// Go templates name a struct's fields, JSON its tags: events have "status" for .Status and "timeNano" for
    /// .TimeNano. A field not found as written is looked up ignoring case.
    /// </summary>
    static bool TryGetIgnoringCase(JsonElement obj, string field, out JsonElement value)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (string.Equals(property.Name, field, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    static object? Index(List<object?> args, string source)
    {
        if (args.Count < 2) throw new FormatException($"template: wrong number of args for index in {{{{{source}}}}}");
        object? current = args[0];
        foreach (var key in args.Skip(1))
        {
            current = current switch
            {
                JsonElement { ValueKind: JsonValueKind.Object } o => o.TryGetProperty(Print(key), out var v) ? v : null,
                JsonElement { ValueKind: JsonValueKind.Array } a when key is long n => n >= 0 && n < a.GetArrayLength() ? a[(int)n]
                    : throw new FormatException($"template: error calling index: index out of range: {n}"),
                JsonElement { ValueKind: JsonValueKind.Null } => null,
                _ => throw new FormatException($"template: error calling index: cannot index {Print(current)} with {Print(key)}"),
            };
        }
        return current;
    }

    static string Join(List<object?> args, string source)
    {
        if (args.Count != 2 || args[0] is not JsonElement list) throw new FormatException($"template: join wants a list and a separator in {{{{{source}}}}}");
        if (list.ValueKind == JsonValueKind.Null) return "";
        if (list.ValueKind != JsonValueKind.Array) throw new FormatException("template: error calling join: not a list");
        return string.Join(Print(args[1]), list.EnumerateArray().Select(e => Print(e)));
    }

    static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.Array => "list",
        JsonValueKind.True or JsonValueKind.False => "bool",
        _ => "null value",
    };

    static string Json(object? value) => value switch
    {
        JsonElement e => e.GetRawText(),
        string s => JsonSerializer.Serialize(s, Berth.Api.ApiJson.Context.String),
        null => "null",
        var o => Print(o),
    };

    /// <summary>Go's fmt %v of a decoded JSON value: maps as map[k:v] (sorted), lists as [a b], null as &lt;nil&gt;.</summary>
    static string Print(object? value) => value switch
    {
        null => "<no value>",
        string s => s,
        long n => n.ToString(CultureInfo.InvariantCulture),
        int n => n.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        JsonElement e => e.ValueKind switch
        {
            JsonValueKind.String => e.GetString()!,
            JsonValueKind.Number => e.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Null or JsonValueKind.Undefined => "<nil>",
            JsonValueKind.Array => "[" + string.Join(' ', e.EnumerateArray().Select(x => Print(x))) + "]",
            _ => "map[" + string.Join(' ', e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Name + ":" + Print(p.Value))) + "]",
        },
        var o => o.ToString() ?? "",
    };
}
