using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>One entry of GET /images/json.</summary>
public sealed class ImageSummary
{
    public long Containers { get; set; } = -1;
    /// <summary>Unix seconds.</summary>
    public long Created { get; set; }
    public string Id { get; set; } = "";
    public Dictionary<string, string>? Labels { get; set; }
    public string ParentId { get; set; } = "";
    public List<string>? RepoDigests { get; set; }
    public List<string>? RepoTags { get; set; }
    public long SharedSize { get; set; } = -1;
    public long Size { get; set; }
    public long VirtualSize { get; set; }
}

/// <summary>GET /images/{name}/json.</summary>
public sealed class ImageInspect
{
    public string Id { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public string Parent { get; set; } = "";
    public string Comment { get; set; } = "";
    /// <summary>RFC 3339 with nanoseconds, as dockerd writes it.</summary>
    public string Created { get; set; } = "";
    public string Container { get; set; } = "";
    public ContainerConfig ContainerConfig { get; set; } = new();
    public string DockerVersion { get; set; } = "";
    public string Author { get; set; } = "";
    public ContainerConfig Config { get; set; } = new();
    public string Architecture { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; set; }
    public string Os { get; set; } = "";
    public long Size { get; set; }
    public long VirtualSize { get; set; }
    public GraphDriverData GraphDriver { get; set; } = new();
    public ImageRootFs RootFS { get; set; } = new();
    public ImageMetadata Metadata { get; set; } = new();
}

/// <summary>Docker's <c>{}</c> set members (ExposedPorts, Volumes).</summary>
public sealed class EmptyObject;

public sealed class GraphDriverData
{
    public Dictionary<string, string> Data { get; set; } = [];
    public string Name { get; set; } = "";
}

public sealed class ImageRootFs
{
    public string Type { get; set; } = "layers";
    public List<string> Layers { get; set; } = [];
}

public sealed class ImageMetadata
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LastTagTime { get; set; }
}

/// <summary>One entry of GET /images/{name}/history, newest first.</summary>
public sealed class ImageHistoryItem
{
    public string Id { get; set; } = "<missing>";
    /// <summary>Unix seconds.</summary>
    public long Created { get; set; }
    public string CreatedBy { get; set; } = "";
    public List<string>? Tags { get; set; }
    public long Size { get; set; }
    public string Comment { get; set; } = "";
}

/// <summary>One entry of DELETE /images/{name}: either a reference untagged or an image/layer deleted.</summary>
public sealed class ImageDeleteResponseItem
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Untagged { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Deleted { get; set; }

    public static ImageDeleteResponseItem ForUntagged(string reference) => new() { Untagged = reference };
    public static ImageDeleteResponseItem ForDeleted(string id) => new() { Deleted = id };
}
