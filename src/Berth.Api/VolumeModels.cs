using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>A volume as dockerd's local driver describes it (GET /volumes/{name}, an entry of GET /volumes).</summary>
public sealed class Volume
{
    public string CreatedAt { get; set; } = "";
    public string Driver { get; set; } = "local";
    public Dictionary<string, string>? Labels { get; set; }
    public string Mountpoint { get; set; } = "";
    public string Name { get; set; } = "";
    public Dictionary<string, string>? Options { get; set; }
    public string Scope { get; set; } = "local";
}

/// <summary>POST /volumes/create.</summary>
public sealed class VolumeCreateRequest
{
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public Dictionary<string, string>? DriverOpts { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>GET /volumes.</summary>
public sealed class VolumeListResponse
{
    public List<Volume> Volumes { get; set; } = [];
    public List<string>? Warnings { get; set; }
}

/// <summary>POST /volumes/prune.</summary>
public sealed class VolumesPruneReport
{
    public List<string>? VolumesDeleted { get; set; }
    public ulong SpaceReclaimed { get; set; }
}
