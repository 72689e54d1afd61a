using System.Text.Json;
using System.Text.RegularExpressions;

namespace Berth.Api;

/// <summary>
/// The <c>filters</c> query parameter: a JSON map of sets (<c>{"dangling":{"true":true}}</c>), or the older
/// map of lists (<c>{"dangling":["true"]}</c>) that dockerd still accepts.
/// </summary>
public sealed class ApiFilters
{
    readonly Dictionary<string, HashSet<string>> _values;

    ApiFilters(Dictionary<string, HashSet<string>> values) => _values = values;

    public static ApiFilters Empty { get; } = new([]);

    public IEnumerable<string> Keys => _values.Keys;

    public bool IsEmpty => _values.Count == 0;

    public IReadOnlyCollection<string> Get(string key) => _values.TryGetValue(key, out var v) ? v : [];

    // dockerd's matching (Go's filters.Args): a key without values matches everything.

    /// <summary>No values for <paramref name="key"/>, or one equal to <paramref name="source"/>.</summary>
    public bool ExactMatch(string key, string source) => Get(key) is not { Count: > 0 } values || values.Contains(source);

    /// <summary>As <see cref="ExactMatch"/>, or a value that <paramref name="source"/> starts with.</summary>
    public bool FuzzyMatch(string key, string source) =>
        ExactMatch(key, source) || Get(key).Any(prefix => source.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>As <see cref="ExactMatch"/>, or a value that matches <paramref name="source"/> as a regular expression (one that is none is skipped).</summary>
    public bool Match(string key, string source)
    {
        if (ExactMatch(key, source)) return true;
        foreach (var pattern in Get(key))
        {
            try
            {
                if (Regex.IsMatch(source, pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))) return true;
            }
            catch (ArgumentException) { }
            catch (RegexMatchTimeoutException) { }
        }
        return false;
    }

    /// <summary>Every value is a "key" that <paramref name="map"/> has or a "key=value" it holds (labels, event attributes).</summary>
    public bool MatchKeyValues(string key, IReadOnlyDictionary<string, string> map)
    {
        var values = Get(key);
        if (values.Count == 0) return true;
        if (map.Count == 0) return false;
        foreach (var value in values)
            if (!Holds(map, value)) return false;
        return true;
    }

    /// <summary>Whether <paramref name="map"/> has the key <paramref name="keyOrPair"/>, or holds it when it is "key=value".</summary>
    public static bool Holds(IReadOnlyDictionary<string, string> map, string keyOrPair)
    {
        int eq = keyOrPair.IndexOf('=');
        return map.TryGetValue(eq < 0 ? keyOrPair : keyOrPair[..eq], out var have) && (eq < 0 || have == keyOrPair[(eq + 1)..]);
    }

    /// <exception cref="FormatException">Not one of the two JSON shapes; the message quotes the value.</exception>
    public static ApiFilters Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return Empty;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new FormatException($"invalid filter '{json}': expected a JSON object");
            var values = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            foreach (var key in doc.RootElement.EnumerateObject())
            {
                var set = new HashSet<string>(StringComparer.Ordinal);
                switch (key.Value.ValueKind)
                {
                    case JsonValueKind.Object:
                        foreach (var member in key.Value.EnumerateObject())
                            if (member.Value.ValueKind == JsonValueKind.True) set.Add(member.Name);
                        break;
                    case JsonValueKind.Array:
                        foreach (var item in key.Value.EnumerateArray())
                            set.Add(item.ValueKind == JsonValueKind.String ? item.GetString()!
                                : throw new FormatException($"invalid filter '{json}': {key.Name} holds a non-string"));
                        break;
                    default:
                        throw new FormatException($"invalid filter '{json}': {key.Name} is neither a set nor a list");
                }
                values[key.Name] = set;
            }
            return new ApiFilters(values);
        }
        catch (JsonException e)
        {
            throw new FormatException($"invalid filter '{json}': {e.Message}");
        }
    }

    /// <summary>The query-string form (map of sets), or null when empty.</summary>
    public string? ToQueryValue()
    {
        if (IsEmpty) return null;
        var map = _values.ToDictionary(kv => kv.Key, kv => kv.Value.ToDictionary(v => v, _ => true));
        return JsonSerializer.Serialize(map, ApiJson.Context.DictionaryStringDictionaryStringBoolean);
    }

    /// <summary>From <c>key=value</c> pairs as given to <c>--filter</c>.</summary>
    /// <exception cref="FormatException">A pair without '='.</exception>
    public static ApiFilters FromPairs(IEnumerable<string> pairs)
    {
        var values = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new FormatException($"bad format of filter (expected name=value): {pair}");
            string key = pair[..eq].Trim().ToLowerInvariant();
            if (!values.TryGetValue(key, out var set)) values[key] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(pair[(eq + 1)..]);
        }
        return new ApiFilters(values);
    }
}
