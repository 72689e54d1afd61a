using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>
/// One line of a streamed answer (pull, push, load, import): dockerd's jsonmessage, lower-case names.
/// A failure after the stream has started is a line with <see cref="ErrorDetail"/> and <see cref="Error"/>.
/// </summary>
public sealed class JsonMessage
{
    [JsonPropertyName("stream")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Stream { get; set; }

    [JsonPropertyName("status")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Status { get; set; }

    [JsonPropertyName("progressDetail")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProgressDetail? ProgressDetail { get; set; }

    /// <summary>The bar dockerd renders for old clients, e.g. <c>[=>   ]  32.77kB/1.069MB</c>.</summary>
    [JsonPropertyName("progress")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Progress { get; set; }

    [JsonPropertyName("id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; set; }

    [JsonPropertyName("errorDetail")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ErrorDetail? ErrorDetail { get; set; }

    [JsonPropertyName("error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; set; }

    /// <summary>Free-form data for the client, e.g. push's <c>{"Tag","Digest","Size"}</c>.</summary>
    [JsonPropertyName("aux")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Aux { get; set; }

    public static JsonMessage ForStatus(string status, string? id = null) => new() { Status = status, Id = id };

    public static JsonMessage ForProgress(string id, string status, long current, long total) => new()
    {
        Id = id,
        Status = status,
        ProgressDetail = new ProgressDetail { Current = current, Total = total },
        Progress = ProgressBar.Render(current, total),
    };

    public static JsonMessage ForError(string message) =>
        new() { ErrorDetail = new ErrorDetail { Message = message }, Error = message };
}

public sealed class ProgressDetail
{
    [JsonPropertyName("current")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Current { get; set; }

    [JsonPropertyName("total")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Total { get; set; }
}

public sealed class ErrorDetail
{
    [JsonPropertyName("code")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Code { get; set; }

    [JsonPropertyName("message")]
    public string Message { get; set; } = "";
}

/// <summary>The aux object of a finished push.</summary>
public sealed class PushResult
{
    public string Tag { get; set; } = "";
    public string Digest { get; set; } = "";
    public long Size { get; set; }
}
