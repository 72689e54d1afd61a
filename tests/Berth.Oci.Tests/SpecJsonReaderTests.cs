using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Oci.Tests;

/// <summary>
/// SpecLoader reads config.json by hand (SpecJsonReader); System.Text.Json's serializer with OciJsonContext is the
/// reference it must agree with: the same spec from the same text, and the same sentence for the same mistake.
/// </summary>
public class SpecJsonReaderTests
{
    /// <summary>A spec with every property of every type set (lists and maps with one item), each value distinct.</summary>
    static Spec Full()
    {
        int next = 1;
        object Fill(Type type)
        {
            var underlying = Nullable.GetUnderlyingType(type) ?? type;
            if (underlying == typeof(string)) return $"s{next++}";
            if (underlying == typeof(bool)) return true;
            if (underlying == typeof(DateTimeOffset)) return DateTimeOffset.UnixEpoch.AddSeconds(next++);
            if (underlying.IsPrimitive) return Convert.ChangeType(next++ % 200 + 1, underlying);
            if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(List<>))
            {
                var list = (IList)Activator.CreateInstance(underlying)!;
                list.Add(Fill(underlying.GetGenericArguments()[0]));
                return list;
            }
            if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                var map = (IDictionary)Activator.CreateInstance(underlying)!;
                map.Add($"k{next++}", Fill(underlying.GetGenericArguments()[1]));
                return map;
            }
            var o = Activator.CreateInstance(underlying)!;
            foreach (var p in underlying.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
                p.SetValue(o, Fill(p.PropertyType));
            return o;
        }
        return (Spec)Fill(typeof(Spec));
    }

    static string Serialized(Spec spec) => JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec);

    /// <summary>What the serializer makes of the text: the spec's JSON, or the error sentence.</summary>
    static string Reference(string json)
    {
        try
        {
            var spec = JsonSerializer.Deserialize(json, OciJsonContext.Default.Spec);
            return spec is null ? "null" : Serialized(spec);
        }
        catch (JsonException e)
        {
            return $"c.json: {SpecLoader.DescribeJsonError(e)}";
        }
    }

    static string HandRead(string json)
    {
        try
        {
            return Serialized(SpecLoader.Parse(json, "c.json"));
        }
        catch (SpecException e) when (e.Message.EndsWith("config is null (expected a JSON object)", StringComparison.Ordinal))
        {
            return "null";
        }
        catch (SpecException e)
        {
            return e.Message;
        }
    }

    [Fact]
    public void Every_property_reads_back_as_the_serializer_reads_it()
    {
        var json = Serialized(Full());
        // Every property was written (none null, so none left out), and the hand reader read each one.
        Assert.Equal(json, HandRead(json));
        Assert.Equal(json, Reference(json));
    }

    public static IEnumerable<object[]> Replacements() =>
        new[] { "\"x\"", "1", "-1", "1.5", "4294967296", "70000", "true", "null", "{}", "[]", "[1]", "{\"a\":1}", "\"\\u0000\"" }
            .Select(r => new object[] { r });

    [Theory]
    [MemberData(nameof(Replacements))]
    public void Every_value_replaced_gives_the_serializers_result(string replacement)
    {
        var full = JsonNode.Parse(Serialized(Full()))!;
        var checkedValues = 0;
        foreach (var path in Paths(full, []))
        {
            var doc = JsonNode.Parse(full.ToJsonString())!;
            Set(doc, path, JsonNode.Parse(replacement));
            // Indented, so that lines and columns are tested too.
            var json = doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            var expected = Reference(json);
            // The NUL check (after the read) is SpecLoader's own, not the serializer's.
            var actual = HandRead(json);
            if (actual.Contains("contains a NUL character", StringComparison.Ordinal)) continue;
            Assert.True(expected == actual, $"at {string.Join("/", path)} = {replacement}:\n  serializer: {expected}\n  hand read:  {actual}");
            checkedValues++;
        }
        Assert.True(checkedValues > 100, $"only {checkedValues} values checked");
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("5")]
    [InlineData("\"spec\"")]
    [InlineData("{\"process\":{\"args\":[\"sh\",]}}")]
    [InlineData("{\"process\":{\"args\":[\"sh\"]}")]
    [InlineData("{\"process\":{\"args\":[\"sh\"]}} x")]
    [InlineData("{\"process\":{\"args\":[\"sh\"]}}\n\n {}")]
    [InlineData("{\"hostname\":\"\\ud800\"}")]
    [InlineData("{\"hostname\":\"\\u12\"}")]
    [InlineData("{\"\\ud800\":1}")]
    [InlineData("{\"annotations\":{\"\\udc00\":\"v\"}}")]
    [InlineData("{\"process\":{\"args\":[\"a\",\"\\ud800\"]}}")]
    [InlineData("{\"hostname\":'h'}")]
    [InlineData("{\"hostname\":\"h\" /* c */}")]
    [InlineData("{\"x-vendor\":[1,2,}")]
    [InlineData("{\"hostname\":\"a\",\"hostname\":\"b\"}")]
    [InlineData("{\"Hostname\":\"a\"}")]
    [InlineData("{\"hostn\\u0061me\":\"a\"}")]
    [InlineData("{\"annotations\":{\"a.b\":1}}")]
    [InlineData("{\"annotations\":{\"a b\":null}}")]
    [InlineData("{\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1},{\"containerId\":5,\"hostID\":\"1\"}]}}")]
    [InlineData("{\"process\":{\"user\":null,\"cwd\":null,\"args\":null}}")]
    [InlineData("{\"linux\":{\"resources\":{\"memory\":{\"limit\":1e3}}}}")]
    [InlineData("{\"linux\":{\"resources\":{\"memory\":{\"limit\":-9223372036854775809}}}}")]
    public void Odd_documents_give_the_serializers_result(string json)
    {
        Assert.Equal(Reference(json), HandRead(json));
    }

    static IEnumerable<List<object>> Paths(JsonNode node, List<object> at)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    List<object> path = [.. at, key];
                    yield return path;
                    foreach (var inner in Paths(value!, path)) yield return inner;
                }
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                {
                    List<object> path = [.. at, i];
                    yield return path;
                    foreach (var inner in Paths(a[i]!, path)) yield return inner;
                }
                break;
        }
    }

    static void Set(JsonNode root, List<object> path, JsonNode? value)
    {
        var parent = root;
        foreach (var step in path[..^1]) parent = step is string key ? parent[key]! : parent[(int)step]!;
        if (path[^1] is string name) parent[name] = value;
        else parent[(int)path[^1]] = value;
    }
}
