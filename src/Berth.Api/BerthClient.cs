using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Berth.Api;

/// <summary>What HEAD/GET /_ping tells a client.</summary>
public sealed record PingResult(ApiVersion? ApiVersion, string? OsType, bool Experimental, string? BuilderVersion);

/// <summary>
/// The Engine API over a unix socket. Negotiates the version once (ping, then min(ours, the daemon's)) and
/// puts it in every path, as the docker CLI does. Error answers become <see cref="DaemonErrorException"/>
/// with the daemon's message; an absent socket becomes <see cref="DaemonUnreachableException"/>.
/// </summary>
public sealed partial class BerthClient : IDisposable
{
    readonly HttpClient _http;
    readonly SemaphoreSlim _negotiation = new(1, 1);
    ApiVersion? _version;

    public BerthClient(DaemonHost host, ApiVersion? pinnedVersion = null)
    {
        Host = host;
        _version = pinnedVersion;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.SocketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        // The host name docker uses; the daemon ignores it. Streams (pull, save) may last long: no timeout.
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://api.moby.localhost"), Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd($"Berth-Client/{ClientVersion} (linux)");
    }

    public DaemonHost Host { get; }

    public static string ClientVersion { get; } =
        typeof(BerthClient).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

    /// <summary>The negotiated version; null before the first call.</summary>
    public ApiVersion? NegotiatedVersion => _version;

    public async Task<PingResult> PingAsync(CancellationToken ct = default)
    {
        using var head = await SendAsync(new HttpRequestMessage(HttpMethod.Head, "/_ping"), ct);
        if (head.StatusCode == HttpStatusCode.OK) return ReadPing(head);
        // docker falls back to GET when HEAD is not answered 200 (an older daemon or a proxy).
        using var get = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "/_ping"), ct);
        await ThrowIfErrorAsync(get, "/_ping", ct);
        return ReadPing(get);
    }

    static PingResult ReadPing(HttpResponseMessage response)
    {
        string? Header(string name) => response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : null;
        ApiVersion.TryParse(Header("Api-Version"), out var version);
        return new PingResult(version, Header("Ostype"), Header("Docker-Experimental") == "true", Header("Builder-Version"));
    }

    /// <summary>Pings once and settles the version: min(ours, the daemon's), or docker's 1.24 when it says none.</summary>
    public async Task<ApiVersion> NegotiateAsync(CancellationToken ct = default)
    {
        if (_version is { } known) return known;
        await _negotiation.WaitAsync(ct);
        try
        {
            if (_version is { } again) return again;
            var ping = await PingAsync(ct);
            _version = ApiVersion.Negotiate(ApiVersion.Current, ping.ApiVersion);
            return _version.Value;
        }
        finally
        {
            _negotiation.Release();
        }
    }

    public Task<SystemVersion> VersionAsync(CancellationToken ct = default) =>
        GetJsonAsync("/version", ApiJson.Context.SystemVersion, ct);

    public Task<SystemInfo> InfoAsync(CancellationToken ct = default) =>
        GetJsonAsync("/info", ApiJson.Context.SystemInfo, ct);

    public Task<List<ImageSummary>> ListImagesAsync(bool all = false, bool digests = false, ApiFilters? filters = null, CancellationToken ct = default)
    {
        var query = new QueryString();
        if (all) query.Add("all", "1");
        if (digests) query.Add("digests", "1");
        query.Add("filters", filters?.ToQueryValue());
        return GetJsonAsync("/images/json" + query, ApiJson.Context.ListImageSummary, ct);
    }

    public Task<ImageInspect> InspectImageAsync(string name, CancellationToken ct = default) =>
        GetJsonAsync($"/images/{name}/json", ApiJson.Context.ImageInspect, ct);

    public Task<List<ImageHistoryItem>> ImageHistoryAsync(string name, CancellationToken ct = default) =>
        GetJsonAsync($"/images/{name}/history", ApiJson.Context.ListImageHistoryItem, ct);

    public async Task TagImageAsync(string name, string repository, string? tag, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("repo", repository);
        query.Add("tag", tag);
        using var response = await SendVersionedAsync(HttpMethod.Post, $"/images/{name}/tag" + query, null, ct);
    }

    public async Task<List<ImageDeleteResponseItem>> RemoveImageAsync(string name, bool force, bool noPrune, CancellationToken ct = default)
    {
        var query = new QueryString();
        if (force) query.Add("force", "1");
        if (noPrune) query.Add("noprune", "1");
        using var response = await SendVersionedAsync(HttpMethod.Delete, $"/images/{name}" + query, null, ct);
        return await ReadJsonAsync(response, ApiJson.Context.ListImageDeleteResponseItem, ct);
    }

    /// <summary>POST /images/create?fromImage=: the daemon's progress, line by line.</summary>
    public IAsyncEnumerable<JsonMessage> PullAsync(string repository, string? tag, string? platform, AuthConfig? auth, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("fromImage", repository);
        query.Add("tag", tag);
        query.Add("platform", platform);
        return StreamAsync(HttpMethod.Post, "/images/create" + query, null, auth ?? new AuthConfig(), ct);
    }

    /// <summary>POST /images/{name}/push (the name unescaped in the path, as docker sends it).</summary>
    public IAsyncEnumerable<JsonMessage> PushAsync(string name, string? tag, AuthConfig? auth, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("tag", tag);
        return StreamAsync(HttpMethod.Post, $"/images/{name}/push" + query, null, auth ?? new AuthConfig(), ct);
    }

    /// <summary>POST /images/load with a docker-save or OCI-layout tar.</summary>
    public IAsyncEnumerable<JsonMessage> LoadAsync(Stream tar, bool quiet, CancellationToken ct = default)
    {
        var content = new StreamContent(tar);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        return StreamAsync(HttpMethod.Post, "/images/load" + (quiet ? "?quiet=1" : ""), content, null, ct);
    }

    /// <summary>POST /images/create?fromSrc=- with a rootfs tar.</summary>
    public IAsyncEnumerable<JsonMessage> ImportAsync(Stream tar, string? repository, string? tag, IEnumerable<string> changes, string? message, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("fromSrc", "-");
        query.Add("repo", repository);
        query.Add("tag", tag);
        query.Add("message", message);
        foreach (string change in changes) query.Add("changes", change);
        var content = new StreamContent(tar);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        return StreamAsync(HttpMethod.Post, "/images/create" + query, content, null, ct);
    }

    /// <summary>GET /images/get?names=...: the tar, streamed. Dispose the stream to end the request.</summary>
    public async Task<Stream> SaveAsync(IEnumerable<string> names, CancellationToken ct = default)
    {
        var query = new QueryString();
        foreach (string name in names) query.Add("names", name);
        var response = await SendVersionedAsync(HttpMethod.Get, "/images/get" + query, null, ct, streaming: true);
        return await response.Content.ReadAsStreamAsync(ct);
    }

    async IAsyncEnumerable<JsonMessage> StreamAsync(HttpMethod method, string path, HttpContent? content, AuthConfig? auth,
        [EnumeratorCancellation] CancellationToken ct)
    {
        using var response = await SendVersionedAsync(method, path, content, ct, streaming: true, auth: auth);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        await foreach (var message in JsonMessageStream.ReadAsync(body, ct))
            yield return message;
    }

    async Task<T> GetJsonAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await SendVersionedAsync(HttpMethod.Get, path, null, ct);
        return await ReadJsonAsync(response, type, ct);
    }

    static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken ct)
    {
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        try
        {
            return await JsonSerializer.DeserializeAsync(body, type, ct)
                ?? throw new FormatException($"the daemon answered {response.RequestMessage?.RequestUri?.AbsolutePath} with JSON null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"the daemon's answer to {response.RequestMessage?.RequestUri?.AbsolutePath} is not the expected JSON: {e.Message}");
        }
    }

    async Task<HttpResponseMessage> SendVersionedAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct,
        bool streaming = false, AuthConfig? auth = null)
    {
        var version = await NegotiateAsync(ct);
        var request = new HttpRequestMessage(method, $"/v{version}{path}") { Content = content };
        if (auth is not null) request.Headers.Add(AuthConfig.HeaderName, auth.ToHeader());
        var response = await SendAsync(request, ct, streaming);
        try
        {
            await ThrowIfErrorAsync(response, request.RequestUri!.OriginalString, ct);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct, bool streaming = false)
    {
        using (request)
        {
            try
            {
                return await _http.SendAsync(request, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, ct);
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException)
            {
                throw new DaemonUnreachableException(Host.ToString(), e);
            }
        }
    }

    /// <summary>Any 2xx-3xx is success (as docker); otherwise the <c>message</c> of the JSON body, or the raw body.</summary>
    static async Task ThrowIfErrorAsync(HttpResponseMessage response, string route, CancellationToken ct)
    {
        int status = (int)response.StatusCode;
        if (status is >= 200 and < 400) return;
        string body = await response.Content.ReadAsStringAsync(ct);
        string message;
        if (body.Trim().Length == 0)
            message = $"request returned {response.ReasonPhrase ?? status.ToString()} for API route and version {route}, check if the server supports the requested API version";
        else if (response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            try
            {
                message = JsonSerializer.Deserialize(body, ApiJson.Context.ErrorResponse)?.Message ?? body.Trim();
            }
            catch (JsonException)
            {
                message = body.Trim();
            }
        }
        else message = body.Trim();
        throw new DaemonErrorException(status, message);
    }

    public void Dispose()
    {
        _http.Dispose();
        _negotiation.Dispose();
    }

    /// <summary>A query string built in order, with every value escaped (the route's names are not).</summary>
    struct QueryString
    {
        string? _text;

        public void Add(string key, string? value)
        {
            if (value is null) return;
            _text += (_text is null ? "?" : "&") + key + "=" + Uri.EscapeDataString(value);
        }

        public override readonly string ToString() => _text ?? "";
    }
}
