using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Images.Registry;

internal sealed record TokenResponse
{
    [JsonPropertyName("token")] public string? Token { get; init; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; init; }
    [JsonPropertyName("expires_in")] public int? ExpiresIn { get; init; }
}

/// <summary>One WWW-Authenticate challenge: its scheme and parameters (realm, service, scope).</summary>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? this[string name] => Parameters.GetValueOrDefault(name);

    /// <summary>Parses <c>Bearer realm="https://auth",service="registry",scope="repository:x:pull"</c> (and Basic).</summary>
    public static AuthChallenge? Parse(string header)
    {
        header = header.Trim();
        var space = header.IndexOf(' ');
        var scheme = space < 0 ? header : header[..space];
        if (scheme.Length == 0) return null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = space < 0 ? header.Length : space + 1;
        while (i < header.Length)
        {
            while (i < header.Length && header[i] is ' ' or ',') i++;
            var eq = header.IndexOf('=', i);
            if (eq < 0) break;
            var name = header[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < header.Length && header[i] == '"')
            {
                var sb = new StringBuilder();
                i++;
                while (i < header.Length && header[i] != '"')
                {
                    if (header[i] == '\\' && i + 1 < header.Length) i++;
                    sb.Append(header[i++]);
                }
                i++;
                value = sb.ToString();
            }
            else
            {
                var end = header.IndexOf(',', i);
                if (end < 0) end = header.Length;
                value = header[i..end].Trim();
                i = end;
            }
            parameters[name] = value;
        }
        return new AuthChallenge(scheme, parameters);
    }
}

/// <summary>
/// Answers registry challenges: Basic with the configured credentials, Bearer by fetching a token from
/// the challenge's realm (with the credentials when there are some) and caching it per registry and scope.
/// </summary>
internal sealed class RegistryAuthenticator(HttpClient http, CredentialStore credentials)
{
    private readonly ConcurrentDictionary<string, AuthChallenge> _challenges = new();
    private readonly ConcurrentDictionary<(string Domain, string Scope), (string Token, DateTimeOffset Expires)> _tokens = new();

    /// <summary>The Authorization header to send before any challenge, from what earlier challenges taught.</summary>
    public AuthenticationHeaderValue? HeaderFor(string domain, string scope)
    {
        if (!_challenges.TryGetValue(domain, out var challenge)) return null;
        if (challenge.Scheme.Equals("basic", StringComparison.OrdinalIgnoreCase))
            return credentials.Find(domain) is { } c ? Basic(c) : null;
        return _tokens.TryGetValue((domain, scope), out var t) && t.Expires > DateTimeOffset.UtcNow
            ? new AuthenticationHeaderValue("Bearer", t.Token)
            : null;
    }

    /// <summary>
    /// Handles a 401: learns the challenge and prepares credentials for a retry. Throws a clear error
    /// when there is nothing to answer it with.
    /// </summary>
    public async Task AnswerAsync(string domain, string scope, HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        var header = response.Headers.WwwAuthenticate.FirstOrDefault();
        var challenge = header is null ? null : AuthChallenge.Parse(header.ToString());
        var creds = credentials.Find(domain);
        var where = credentials.Path is null ? "" : $" (looked in {credentials.Path})";
        if (challenge is null)
            throw new RegistryUnauthorizedException($"{what}: unauthorized: the registry answered 401 without a WWW-Authenticate challenge", response.StatusCode);
        _challenges[domain] = challenge;
        if (challenge.Scheme.Equals("basic", StringComparison.OrdinalIgnoreCase))
        {
            if (creds is null)
                throw new RegistryUnauthorizedException($"{what}: unauthorized: no basic auth credentials for {domain}{where}", response.StatusCode);
            return;
        }
        if (!challenge.Scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase))
            throw new RegistryUnauthorizedException($"{what}: unauthorized: unsupported authentication scheme {challenge.Scheme}", response.StatusCode);
        var realm = challenge["realm"] ?? throw new RegistryUnauthorizedException($"{what}: bearer challenge without a realm", response.StatusCode);
        var query = new List<string>();
        if (challenge["service"] is { } service) query.Add("service=" + Uri.EscapeDataString(service));
        foreach (var s in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries)) query.Add("scope=" + Uri.EscapeDataString(s));
        var url = realm + (realm.Contains('?') ? "&" : "?") + string.Join("&", query);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (creds is not null) request.Headers.Authorization = Basic(creds);
        using var tokenResponse = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!tokenResponse.IsSuccessStatusCode)
        {
            var text = await RegistryErrorText.ReadAsync(tokenResponse, cancellationToken).ConfigureAwait(false);
            throw new RegistryUnauthorizedException(
                $"{what}: token request to {realm} failed: {text}{(creds is null ? $"; no credentials for {domain}{where}" : "")}",
                tokenResponse.StatusCode);
        }
        var body = await tokenResponse.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        TokenResponse? token;
        try
        {
            token = JsonSerializer.Deserialize(body, ImagesJsonContext.Default.TokenResponse);
        }
        catch (JsonException e)
        {
            throw new RegistryUnauthorizedException($"{what}: token from {realm} is not JSON: {e.Message}", tokenResponse.StatusCode);
        }
        var value = token?.Token ?? token?.AccessToken;
        if (string.IsNullOrEmpty(value))
            throw new RegistryUnauthorizedException($"{what}: token response from {realm} has no token", tokenResponse.StatusCode);
        // Tokens default to 60 s (the distribution spec's minimum); renew a little early.
        var lifetime = TimeSpan.FromSeconds(Math.Max(10, (token!.ExpiresIn ?? 60) - 5));
        _tokens[(domain, scope)] = (value, DateTimeOffset.UtcNow + lifetime);
    }

    public bool HasAnswer(string domain, string scope) => HeaderFor(domain, scope) is not null;

    private static AuthenticationHeaderValue Basic(RegistryCredentials c) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{c.Username}:{c.Password}")));

    internal static bool IsUnauthorized(HttpStatusCode status) => status == HttpStatusCode.Unauthorized;
}
