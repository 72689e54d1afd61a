using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Oci;
using Berth.Tests.Shared;

namespace Berth.Engine.Tests;

/// <summary>
/// Field-by-field comparison of two specs. Both go through Berth's OCI types first, so a field Go leaves out when
/// it is zero (omitempty) and one Berth writes as zero compare equal; every other difference is listed by its
/// path ("linux.resources.memory.swap: dockerd 134217728, Berth absent").
/// </summary>
internal static class SpecComparison
{
    public static JsonObject Canonical(Spec spec) =>
        JsonNode.Parse(JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec))!.AsObject();

    public static JsonObject Canonical(string json) =>
        Canonical(JsonSerializer.Deserialize(json, OciJsonContext.Default.Spec)!);

    public static SortedDictionary<string, string> Flatten(JsonNode? node) => JsonLeaves.Flatten(node);

    public static void AssertSame(JsonNode expected, JsonNode actual, string what) => JsonLeaves.AssertSame(expected, actual, what);
}
