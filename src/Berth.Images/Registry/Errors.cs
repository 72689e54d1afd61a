using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Images.Registry;

/// <summary>A registry operation that failed; the message names the registry, repository and what it answered.</summary>
public class RegistryException(string message, HttpStatusCode? status = null, Exception? inner = null, bool connectionFailed = false)
    : Exception(message, inner)
{
    public HttpStatusCode? StatusCode { get; } = status;

    /// <summary>Worth retrying: a failed or cut connection, 5xx, 429 and 408.</summary>
    public bool IsTransient => connectionFailed
        || (StatusCode is { } s && ((int)s >= 500 || s is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout));
}

/// <summary>The registry wants credentials we do not have, or refused the ones we sent (401/403).</summary>
public sealed class RegistryUnauthorizedException(string message, HttpStatusCode status) : RegistryException(message, status);

/// <summary>The manifest or blob does not exist in the registry (404).</summary>
public sealed class RegistryNotFoundException(string message) : RegistryException(message, HttpStatusCode.NotFound);

/// <summary>An index lists no manifest for the wanted platform.</summary>
public sealed class PlatformNotFoundException(string message) : RegistryException(message);

internal sealed record RegistryErrors
{
    [JsonPropertyName("errors")] public List<RegistryError>? Errors { get; init; }
}

internal sealed record RegistryError
{
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
}

internal static class RegistryErrorText
{
    /// <summary>"manifest unknown: manifest unknown" from the registry's JSON error body, or the status line.</summary>
    public static async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            body = "";
        }
        try
        {
            var errors = JsonSerializer.Deserialize(body, ImagesJsonContext.Default.RegistryErrors)?.Errors;
            if (errors is { Count: > 0 })
                return string.Join("; ", errors.Select(e => $"{e.Code?.ToLowerInvariant().Replace('_', ' ')}: {e.Message}"));
        }
        catch (JsonException)
        {
        }
        var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        body = body.Trim();
        return body.Length is > 0 and < 200 ? $"{status}: {body}" : status;
    }
}
