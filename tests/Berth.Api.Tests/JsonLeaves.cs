using System.Text.Json.Nodes;

namespace Berth.Tests.Shared;

/// <summary>
/// JSON compared field by field: every leaf (and empty object or array) by its path, "mounts[3].options[1]" →
/// "\"ro\"", so that a difference names the field. Shared with Berth.Engine.Tests.
/// </summary>
internal static class JsonLeaves
{
    public static SortedDictionary<string, string> Flatten(JsonNode? node)
    {
        var leaves = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Walk(JsonNode? n, string path)
        {
            switch (n)
            {
                case JsonObject o when o.Count > 0:
                    foreach (var (key, value) in o) Walk(value, path.Length == 0 ? key : $"{path}.{key}");
                    break;
                case JsonArray a when a.Count > 0:
                    for (var i = 0; i < a.Count; i++) Walk(a[i], $"{path}[{i}]");
                    break;
                default:
                    leaves[path] = n?.ToJsonString() ?? "null";
                    break;
            }
        }
        Walk(node, "");
        return leaves;
    }

    /// <summary>One line per path whose value differs or that only one side has: "a.b: dockerd 1, Berth absent".</summary>
    public static List<string> Differences(JsonNode? expected, JsonNode? actual)
    {
        var want = Flatten(expected);
        var have = Flatten(actual);
        var lines = new List<string>();
        foreach (var path in want.Keys.Union(have.Keys).Order(StringComparer.Ordinal))
        {
            var w = want.GetValueOrDefault(path);
            var h = have.GetValueOrDefault(path);
            if (w != h) lines.Add($"{path}: dockerd {w ?? "absent"}, Berth {h ?? "absent"}");
        }
        return lines;
    }

    public static void AssertSame(JsonNode? expected, JsonNode? actual, string what)
    {
        var differences = Differences(expected, actual);
        Assert.True(differences.Count == 0, $"{what}: {differences.Count} field(s) differ:\n  " + string.Join("\n  ", differences.Take(60)));
    }
}
