using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>Registry credentials as the client sends them in the X-Registry-Auth header.</summary>
public sealed class AuthConfig
{
    public const string HeaderName = "X-Registry-Auth";

    [JsonPropertyName("username")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Username { get; set; }

    [JsonPropertyName("password")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Password { get; set; }

    /// <summary>base64("user:password"), as stored in a docker config.json.</summary>
    [JsonPropertyName("auth")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Auth { get; set; }

    [JsonPropertyName("email")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Email { get; set; }

    [JsonPropertyName("serveraddress")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ServerAddress { get; set; }

    [JsonPropertyName("identitytoken")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IdentityToken { get; set; }

    [JsonPropertyName("registrytoken")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RegistryToken { get; set; }

    [JsonIgnore]
    public bool IsEmpty => Username is null && Password is null && Auth is null && IdentityToken is null && RegistryToken is null;

    /// <summary>The header value: URL-safe base64 of the JSON (what docker sends; <c>e30=</c> for no credentials).</summary>
    public string ToHeader()
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(this, ApiJson.Context.AuthConfig);
        return Convert.ToBase64String(json).Replace('+', '-').Replace('/', '_');
    }

    /// <summary>Reads the header; accepts URL-safe and standard base64, padded or not. Null or empty → null.</summary>
    /// <exception cref="FormatException">The value is not base64 of an auth JSON object.</exception>
    public static AuthConfig? FromHeader(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        string b64 = value.Trim().Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
        byte[] json;
        try
        {
            json = Convert.FromBase64String(b64);
        }
        catch (FormatException)
        {
            throw new FormatException($"{HeaderName}: not base64: {Truncate(value)}");
        }
        try
        {
            return JsonSerializer.Deserialize(json, ApiJson.Context.AuthConfig)
                ?? throw new FormatException($"{HeaderName}: JSON null instead of an object");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{HeaderName}: invalid JSON after base64 decoding: {e.Message}");
        }
    }

    static string Truncate(string s) => s.Length <= 16 ? s : s[..16] + "...";

    public override string ToString() => $"AuthConfig(user={Username ?? "-"}, server={ServerAddress ?? "-"})";
}
