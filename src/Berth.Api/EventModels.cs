using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>
/// One <c>GET /events</c> message, in dockerd 20.10's field order. status, id and from are the pre-1.22 fields dockerd
/// still fills for container events (from = the image) and image events (no from); other types leave them out.
/// </summary>
public sealed class EventMessage
{
    [JsonPropertyName("status"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Status { get; set; }
    [JsonPropertyName("id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Id { get; set; }
    [JsonPropertyName("from"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? From { get; set; }
    /// <summary>container, image, network, volume, daemon, plugin...</summary>
    public string Type { get; set; } = "";
    public string Action { get; set; } = "";
    public EventActor Actor { get; set; } = new();
    [JsonPropertyName("scope")] public string Scope { get; set; } = "local";
    /// <summary>Unix seconds.</summary>
    [JsonPropertyName("time")] public long Time { get; set; }
    /// <summary>Unix nanoseconds.</summary>
    [JsonPropertyName("timeNano")] public long TimeNano { get; set; }
}

public sealed class EventActor
{
    public string ID { get; set; } = "";
    /// <summary>Sorted by key, as Go writes a map.</summary>
    public SortedDictionary<string, string> Attributes { get; set; } = new(StringComparer.Ordinal);
}
