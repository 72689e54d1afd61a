using System.Text;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli;

/// <summary>
/// Credentials for a registry from a docker-style config.json ($BERTH_CONFIG, $DOCKER_CONFIG or ~/.docker),
/// sent to the daemon in X-Registry-Auth as docker does. No entry → empty credentials (<c>e30=</c>).
/// </summary>
public static class RegistryAuth
{
    const string DockerHubKey = "https://index.docker.io/v1/";

    public static AuthConfig For(string repository)
    {
        string? file = ConfigFile();
        if (file is null || !File.Exists(file)) return new AuthConfig();
        string registry = RegistryOf(repository);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
        if (!doc.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object) return new AuthConfig();
        foreach (var entry in auths.EnumerateObject())
        {
            if (!SameRegistry(entry.Name, registry) || !entry.Value.TryGetProperty("auth", out var auth)) continue;
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth.GetString() ?? ""));
            int colon = decoded.IndexOf(':');
            if (colon < 0) throw new FormatException($"{file}: auths.{entry.Name}.auth is not base64 of user:password");
            return new AuthConfig { Username = decoded[..colon], Password = decoded[(colon + 1)..], ServerAddress = entry.Name };
        }
        return new AuthConfig();
    }

    static string? ConfigFile()
    {
        string? dir = Environment.GetEnvironmentVariable("BERTH_CONFIG") ?? Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (dir is null)
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (home.Length == 0) return null;
            dir = Path.Combine(home, ".docker");
        }
        return Path.Combine(dir, "config.json");
    }

    /// <summary>The registry host of a repository: its first component when that looks like a host, else Docker Hub.</summary>
    internal static string RegistryOf(string repository)
    {
        int slash = repository.IndexOf('/');
        if (slash < 0) return DockerHubKey;
        string first = repository[..slash];
        bool isHost = first.Contains('.') || first.Contains(':') || first == "localhost";
        return !isHost || first is "docker.io" or "index.docker.io" or "registry-1.docker.io" ? DockerHubKey : first;
    }

    static bool SameRegistry(string key, string registry)
    {
        if (key == registry) return true;
        // Keys may be written as URLs: "http://127.0.0.1:5000" or "https://host/v2/".
        string host = key;
        int scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) host = host[(scheme + 3)..];
        int slash = host.IndexOf('/');
        if (slash >= 0) host = host[..slash];
        return host == registry || (registry == DockerHubKey && host is "index.docker.io" or "docker.io" or "registry-1.docker.io");
    }
}
