using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// `state` and `list --format json` as runc prints them, for tools that read them: runc's field order, "created" in
/// UTC with nanoseconds at most and no trailing zeros (Go's RFC3339Nano), annotations sorted by key; `state` as an
/// object indented by two spaces, `list` as one compact line with each container's owner by name.
/// </summary>
public sealed class StateOutputTests(ITestOutputHelper output) : ContainerTest(output)
{
    static readonly string[] RuncFieldOrder = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner"];
    const string Rfc3339NanoUtc = @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$";

    void CreateAnnotated()
    {
        var spec = Specs.Default("sleep", "1000");
        spec["annotations"] = new JsonObject { ["zeta"] = "1", ["alpha"] = "2" };
        var create = Create(spec);
        Assert.True(create.Succeeded, "create failed: " + create);
    }

    static List<string> Keys(JsonObject o) => o.Select(p => p.Key).ToList();

    [SkippableFact]
    public void State_IsIndentedByTwoSpaces_InRuncsFieldOrder()
    {
        CreateAnnotated();

        var state = State();

        Assert.True(state.Succeeded, "state failed: " + state);
        Assert.StartsWith("{\n  \"ociVersion\": ", state.Stdout);
        var json = JsonNode.Parse(state.Stdout)!.AsObject();
        Assert.Equal(RuncFieldOrder, Keys(json));
        Assert.Equal(["alpha", "zeta"], Keys(json["annotations"]!.AsObject()));
        Assert.Matches(Rfc3339NanoUtc, (string)json["created"]!);
        Assert.Equal("", (string?)json["owner"]);
    }

    [SkippableFact]
    public void ListJson_IsOneCompactLine_InRuncsFieldOrder()
    {
        CreateAnnotated();

        var list = Runtime.Run("list", "--format", "json");

        Assert.True(list.Succeeded, "list failed: " + list);
        Assert.EndsWith("\n", list.Stdout);
        Assert.DoesNotContain("\n", list.Stdout.TrimEnd('\n'));
        Assert.DoesNotContain(": ", list.Stdout); // compact: no space after a colon anywhere (no value has one here)
        var entry = Assert.Single(JsonNode.Parse(list.Stdout)!.AsArray())!.AsObject();
        Assert.Equal(RuncFieldOrder, Keys(entry));
        Assert.Equal(Id, (string?)entry["id"]);
        Assert.Equal(Pid(), (int)entry["pid"]!);
        Assert.Matches(Rfc3339NanoUtc, (string)entry["created"]!);
        Assert.Equal("root", (string?)entry["owner"]); // the state directory's owner, by name
        // state and list agree on the creation time to the last digit.
        Assert.Equal((string)StateJson()["created"]!, (string)entry["created"]!);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(list.Stdout).RootElement[0].GetProperty("annotations").ValueKind);
    }
}
