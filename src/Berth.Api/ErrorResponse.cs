using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>The body of every error answer: <c>{"message": "..."}</c>, as dockerd writes it.</summary>
public sealed class ErrorResponse
{
    public ErrorResponse() { }

    public ErrorResponse(string message) => Message = message;

    [JsonPropertyName("message")]
    public string Message { get; set; } = "";
}
