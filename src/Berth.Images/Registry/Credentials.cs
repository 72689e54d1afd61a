using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Images.Registry;

/// <summary>A user name and password (or token) for one registry.</summary>
public sealed record RegistryCredentials(string Username, string Password);

internal sealed record DockerConfigFile
{
    [JsonPropertyName("auths")] public Dictionary<string, DockerAuthEntry>? Auths { get; init; }
    [JsonPropertyName("credsStore")] public string? CredsStore { get; init; }
    [JsonPropertyName("credHelpers")] public Dictionary<string, string>? CredHelpers { get; init; }
}

internal sealed record DockerAuthEntry
{
    [JsonPropertyName("auth")] public string? Auth { get; init; }
    [JsonPropertyName("username")] public string? Username { get; init; }
    [JsonPropertyName("password")] public string? Password { get; init; }
    [JsonPropertyName("identitytoken")] public string? IdentityToken { get; init; }
}

/// <summary>
/// Credentials from a docker-style config.json: <c>auths</c> entries keyed by registry (with or
/// without scheme and path, "https://index.docker.io/v1/" for Docker Hub), each with a base64
/// "user:password" <c>auth</c> or a <c>username</c>/<c>password</c> pair. Credential helpers are not
/// run: a registry configured only through one is an error, not silently anonymous.
/// </summary>
public sealed class CredentialStore
{
    private readonly Dictionary<string, DockerAuthEntry> _auths = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _helpers = new(StringComparer.OrdinalIgnoreCase);
    private readonly string? _globalHelper;

    /// <summary>No credentials at all.</summary>
    public static readonly CredentialStore Empty = new(null, null);

    private CredentialStore(DockerConfigFile? file, string? path)
    {
        Path = path;
        if (file is null) return;
        foreach (var (key, entry) in file.Auths ?? []) _auths[NormalizeHost(key)] = entry;
        foreach (var (key, helper) in file.CredHelpers ?? []) _helpers[NormalizeHost(key)] = helper;
        _globalHelper = file.CredsStore;
    }

    /// <summary>
    /// Exactly one registry's credentials, as a daemon gets them per request (the X-Registry-Auth header);
    /// <paramref name="source"/> names where they came from in error messages.
    /// </summary>
    public static CredentialStore ForRegistry(string domain, RegistryCredentials credentials, string source) =>
        new(new DockerConfigFile
        {
            Auths = new() { [domain] = new DockerAuthEntry { Username = credentials.Username, Password = credentials.Password } },
        }, source);

    /// <summary>The file read, or null.</summary>
    public string? Path { get; }

    /// <summary>$DOCKER_CONFIG/config.json, else ~/.docker/config.json.</summary>
    public static string DefaultPath()
    {
        var dir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (string.IsNullOrEmpty(dir))
            dir = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        return System.IO.Path.Combine(dir, "config.json");
    }

    /// <summary>Reads a config.json; a missing file means no credentials, an unreadable one is an error naming it.</summary>
    public static CredentialStore Load(string? path = null)
    {
        path ??= DefaultPath();
        if (!File.Exists(path)) return new CredentialStore(null, path);
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllBytes(path), ImagesJsonContext.Default.DockerConfigFile);
            return new CredentialStore(file, path);
        }
        catch (JsonException e)
        {
            throw new RegistryException($"{path}: invalid docker config{(e.Path is null ? "" : " at " + e.Path)}: {e.Message}");
        }
    }

    /// <summary>Credentials for a registry domain as references name it ("docker.io", "127.0.0.1:5000"), or null.</summary>
    public RegistryCredentials? Find(string domain)
    {
        var host = NormalizeHost(domain);
        if (_auths.TryGetValue(host, out var entry))
        {
            if (!string.IsNullOrEmpty(entry.Auth))
            {
                string decoded;
                try
                {
                    decoded = Encoding.UTF8.GetString(Convert.FromBase64String(entry.Auth));
                }
                catch (FormatException)
                {
                    throw new RegistryException($"{Path}: auths.{host}.auth is not base64");
                }
                var colon = decoded.IndexOf(':');
                if (colon < 0) throw new RegistryException($"{Path}: auths.{host}.auth is not \"user:password\" in base64");
                return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..]);
            }
            if (!string.IsNullOrEmpty(entry.Username)) return new RegistryCredentials(entry.Username, entry.Password ?? "");
            if (!string.IsNullOrEmpty(entry.IdentityToken))
                throw new RegistryException($"{Path}: auths.{host} has only an identitytoken, which berth does not support");
        }
        var helper = _helpers.GetValueOrDefault(host) ?? (_auths.ContainsKey(host) ? null : _globalHelper);
        if (helper is not null)
            throw new RegistryException($"{Path}: credentials for {host} are in credential helper \"{helper}\", which berth does not run; add an auths entry instead");
        return null;
    }

    /// <summary>"https://index.docker.io/v1/" → "docker.io"; "http://host:5000/v2/" → "host:5000".</summary>
    internal static string NormalizeHost(string key)
    {
        var host = key;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) host = host[(scheme + 3)..];
        var slash = host.IndexOf('/');
        if (slash >= 0) host = host[..slash];
        host = host.ToLowerInvariant();
        return host is "index.docker.io" or "registry-1.docker.io" ? ImageReference.DefaultDomain : host;
    }
}
