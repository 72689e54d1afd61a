using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;

namespace Berth.Api.Tests;

/// <summary>Our models read dockerd's captured bodies and write the same field names back.</summary>
public class CapturedShapeTests
{
    static string Resource(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", name));

    static HashSet<string> Keys(JsonNode? node) => node is JsonObject o ? o.Select(p => p.Key).ToHashSet() : [];

    /// <summary>Every key dockerd sent is one we write too (except the listed ones), and we write no key dockerd lacks.</summary>
    static void AssertSameKeys(JsonNode? captured, JsonNode? ours, string where, params string[] notModelled)
    {
        var want = Keys(captured);
        want.ExceptWith(notModelled);
        var have = Keys(ours);
        Assert.True(want.IsSubsetOf(have), $"{where}: missing {string.Join(", ", want.Except(have))}");
        Assert.True(have.IsSubsetOf(Keys(captured).Union(["Variant", "StopSignal", "ExposedPorts", "Experimental"])),
            $"{where}: extra {string.Join(", ", have.Except(Keys(captured)))}");
    }

    [Fact]
    public void Info_round_trips_with_dockerd_field_names()
    {
        string json = Resource("dockerd-info.json");
        var info = JsonSerializer.Deserialize(json, ApiJson.Context.SystemInfo)!;
        Assert.Equal("EOUY:IZHF:UB5O:WGN5:HGSO:3GSD:MRMV:NJFY:QXVL:LEKZ:DELJ:QTEK", info.ID);
        Assert.Equal(2, info.NCPU);
        Assert.Equal(25276510208, info.MemTotal);
        Assert.Equal("1", info.CgroupVersion);
        Assert.Equal("/var/lib/peer-docker", info.DockerRootDir);
        Assert.Equal("runc", info.Runtimes["io.containerd.runc.v2"].Path);
        Assert.Equal("inactive", info.Swarm.LocalNodeState);
        Assert.Equal(["Backing Filesystem", "extfs"], info.DriverStatus[0]);
        var ours = JsonNode.Parse(JsonSerializer.Serialize(info, ApiJson.Context.SystemInfo));
        // Fields of cgroup v1 kernel memory and swarm generic resources: dockerd 20.10 only, not modelled.
        AssertSameKeys(JsonNode.Parse(json), ours, "info", "KernelMemory", "KernelMemoryTCP", "GenericResources");
        Assert.Equal("runc", ours!["Runtimes"]!["runc"]!["path"]!.GetValue<string>());
    }

    [Fact]
    public void Version_round_trips_with_dockerd_field_names()
    {
        string json = Resource("dockerd-version.json");
        var version = JsonSerializer.Deserialize(json, ApiJson.Context.SystemVersion)!;
        Assert.Equal("1.41", version.ApiVersion);
        Assert.Equal("1.12", version.MinAPIVersion);
        Assert.Equal(["Engine", "containerd", "runc", "docker-init"], version.Components.Select(c => c.Name));
        Assert.Equal("go1.19.8", version.Components[0].Details!["GoVersion"]);
        var ours = JsonNode.Parse(JsonSerializer.Serialize(version, ApiJson.Context.SystemVersion));
        AssertSameKeys(JsonNode.Parse(json), ours, "version");
        Assert.Null(ours!["Experimental"]); // false is left out, as dockerd does
    }

    [Fact]
    public void Image_list_inspect_and_delete_round_trip()
    {
        string list = Resource("dockerd-images.json");
        var images = JsonSerializer.Deserialize(list, ApiJson.Context.ListImageSummary)!;
        var image = Assert.Single(images);
        Assert.Equal(["busybox:latest"], image.RepoTags);
        Assert.Equal(-1, image.SharedSize);
        Assert.Equal(1984200, image.Size);
        var oursList = JsonNode.Parse(JsonSerializer.Serialize(images, ApiJson.Context.ListImageSummary))!.AsArray();
        AssertSameKeys(JsonNode.Parse(list)!.AsArray()[0], oursList[0], "images/json");
        Assert.Null(oursList[0]!["RepoDigests"]); // written as null, as dockerd does

        string inspectJson = Resource("dockerd-image-inspect.json");
        var inspect = JsonSerializer.Deserialize(inspectJson, ApiJson.Context.ImageInspect)!;
        Assert.Equal("layers", inspect.RootFS.Type);
        Assert.Equal("overlay2", inspect.GraphDriver.Name);
        Assert.Equal("2026-11-29T14:43:23.281729169Z", inspect.Metadata.LastTagTime);
        var oursInspect = JsonNode.Parse(JsonSerializer.Serialize(inspect, ApiJson.Context.ImageInspect));
        var captured = JsonNode.Parse(inspectJson);
        AssertSameKeys(captured, oursInspect, "images/{name}/json");
        AssertSameKeys(captured!["Config"], oursInspect!["Config"], "images/{name}/json Config");

        string deleteJson = Resource("dockerd-image-delete.json");
        var deleted = JsonSerializer.Deserialize(deleteJson, ApiJson.Context.ListImageDeleteResponseItem)!;
        Assert.Equal("peerbuilt:latest", deleted[0].Untagged);
        Assert.Null(deleted[0].Deleted);
        Assert.StartsWith("sha256:", deleted[1].Deleted);
        Assert.Equal("""[{"Untagged":"peerbuilt:latest"},{"Deleted":"sha256:1"}]""",
            JsonSerializer.Serialize([ImageDeleteResponseItem.ForUntagged("peerbuilt:latest"), ImageDeleteResponseItem.ForDeleted("sha256:1")],
                ApiJson.Context.ListImageDeleteResponseItem));
    }

    [Fact]
    public void Error_body_is_lower_case_message()
    {
        Assert.Equal("""{"message":"No such image: x"}""", JsonSerializer.Serialize(new ErrorResponse("No such image: x"), ApiJson.Context.ErrorResponse));
    }

    [Fact]
    public async Task Push_progress_lines_read_and_write_back_as_dockerd_wrote_them()
    {
        await using var stream = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Resources", "dockerd-push.ndjson"));
        var messages = new List<JsonMessage>();
        await foreach (var m in JsonMessageStream.ReadAsync(stream)) messages.Add(m);
        Assert.Equal(7, messages.Count);
        Assert.Equal("edb49b43be43", messages[2].Id);
        Assert.Equal(19968, messages[2].ProgressDetail!.Current);
        Assert.Equal(1984200, messages[2].ProgressDetail!.Total);
        Assert.Equal("sha256:1b2a5c5838959a389214ce5bae9cf91f42d958fabddd71cee4150ea424cb3bc6",
            messages[6].Aux!.Value.Deserialize(ApiJson.Context.PushResult)!.Digest);
        // Our bar text is dockerd's, byte for byte, below and past the total.
        Assert.Equal(messages[2].Progress, JsonMessage.ForProgress("x", "Pushing", 19968, 1984200).Progress);
        Assert.Equal(messages[3].Progress, JsonMessage.ForProgress("x", "Pushing", 2129920, 1984200).Progress);
        // Written back compactly with the same members (an empty progressDetail stays {}).
        Assert.Equal("""{"status":"Preparing","progressDetail":{},"id":"edb49b43be43"}""" + "\n",
            System.Text.Encoding.UTF8.GetString(JsonMessageStream.Serialize(messages[1])));
    }

    [Fact]
    public void Error_line_carries_errorDetail_and_error()
    {
        string line = System.Text.Encoding.UTF8.GetString(JsonMessageStream.Serialize(JsonMessage.ForError("boom: x")));
        Assert.Equal("""{"errorDetail":{"message":"boom: x"},"error":"boom: x"}""" + "\n", line);
    }

    [Fact]
    public void Json_is_not_html_escaped()
    {
        var v = new SystemVersion { Version = "1.1.5+ds1", BuildTime = "2026-05-07T21:09:36+00:00" };
        string json = JsonSerializer.Serialize(v, ApiJson.Context.SystemVersion);
        Assert.Contains("\"1.1.5+ds1\"", json);
    }
}
