using System.Net;
using System.Net.Http.Headers;

namespace Berth.Images.Registry;

public sealed record RegistryClientOptions
{
    /// <summary>Credentials for registries (a docker-style config.json). None by default.</summary>
    public CredentialStore Credentials { get; init; } = CredentialStore.Empty;
    /// <summary>Registries (host[:port]) reached over plain HTTP besides the loopback ones, as dockerd's insecure-registries.</summary>
    public IReadOnlyCollection<string> InsecureRegistries { get; init; } = [];
    /// <summary>Attempts per request on transient failures (connection errors, cut transfers, 5xx, 429).</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>First retry delay; doubled at each attempt.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Layers downloaded or uploaded at once (dockerd: 3 down, 5 up).</summary>
    public int MaxConcurrentDownloads { get; init; } = 3;
    public int MaxConcurrentUploads { get; init; } = 5;
    /// <summary>The platform pulled from indexes; linux/amd64 by default.</summary>
    public Platform Platform { get; init; } = PlatformMatcher.Default;
    /// <summary>Largest manifest accepted (containerd's limit): a bigger one is refused instead of read into memory.</summary>
    public int MaxManifestBytes { get; init; } = 4 << 20;
    /// <summary>A handler to send requests through (tests); a SocketsHttpHandler by default.</summary>
    public HttpMessageHandler? Handler { get; init; }
}

/// <summary>A manifest or index as the registry sent it: the exact bytes (the digest is of these), and its type.</summary>
public sealed record FetchedManifest(byte[] Bytes, string MediaType, Digest Digest)
{
    public Descriptor Descriptor => new() { MediaType = MediaType, Digest = Digest, Size = Bytes.Length };
}

/// <summary>
/// The registry HTTP API v2: manifests and blobs, with authentication (Bearer tokens and Basic), retries
/// with backoff on transient failures, and plain HTTP only for loopback (and configured insecure) registries.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly RegistryAuthenticator _auth;

    public RegistryClient(RegistryClientOptions? options = null)
    {
        Options = options ?? new RegistryClientOptions();
        var handler = Options.Handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = true, // blob GETs redirect to storage; HttpClient drops Authorization on redirect
            AutomaticDecompression = DecompressionMethods.None, // layers are stored as sent
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("berth", "0.1"));
        _auth = new RegistryAuthenticator(_http, Options.Credentials);
    }

    public RegistryClientOptions Options { get; }

    /// <summary>The scheme a registry is spoken to with: HTTP for loopback and insecure registries, HTTPS otherwise.</summary>
    public Uri BaseUri(string domain)
    {
        var host = domain == ImageReference.DefaultDomain ? "registry-1.docker.io" : domain;
        var scheme = IsLoopback(domain) || Options.InsecureRegistries.Contains(domain, StringComparer.OrdinalIgnoreCase) ? "http" : "https";
        return new Uri($"{scheme}://{host}/v2/");
    }

    /// <summary>localhost, 127.0.0.0/8 and ::1, with or without a port.</summary>
    public static bool IsLoopback(string domain)
    {
        var host = domain;
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']');
            host = close < 0 ? host : host[1..close];
        }
        else if (host.Count(c => c == ':') == 1)
        {
            host = host[..host.IndexOf(':')];
        }
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>GET /v2/: checks the registry speaks v2 (a 401 there is fine: it only announces the auth scheme).</summary>
    public async Task PingAsync(string domain, CancellationToken cancellationToken = default)
    {
        var uri = BaseUri(domain);
        using var response = await SendRawAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), $"GET {uri}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Unauthorized))
            throw new RegistryException($"GET {uri}: not a registry v2 endpoint: {await RegistryErrorText.ReadAsync(response, cancellationToken).ConfigureAwait(false)}", response.StatusCode);
    }

    /// <summary>Fetches a manifest or index by tag or digest; verified against the digest asked for and the Docker-Content-Digest header.</summary>
    public async Task<FetchedManifest> GetManifestAsync(ImageReference repository, string reference, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(BaseUri(repository.Domain), $"{repository.Path}/manifests/{reference}");
        var what = $"GET {uri}";
        using var response = await SendAsync(repository.Domain, PullScope(repository), () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, uri);
            foreach (var type in MediaTypes.AllManifests) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            return request;
        }, what, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new RegistryNotFoundException($"manifest for {repository.FamiliarName}{(reference.Contains(':') ? "@" : ":")}{reference} not found: {await RegistryErrorText.ReadAsync(response, cancellationToken).ConfigureAwait(false)}");
        await EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > Options.MaxManifestBytes)
            throw new RegistryException($"{what}: manifest of {response.Content.Headers.ContentLength} bytes is over the {Options.MaxManifestBytes}-byte limit");
        var bytes = await ReadLimitedAsync(response, Options.MaxManifestBytes, what, cancellationToken).ConfigureAwait(false);
        var digest = Digest.Compute(bytes);
        if (Digest.TryParse(reference, out var asked) && asked != digest)
            throw new DigestMismatchException(asked, digest, $"manifest {repository.Name}@{asked}");
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values)
            && Digest.TryParse(values.FirstOrDefault(), out var announced) && announced != digest)
            throw new DigestMismatchException(announced, digest, $"manifest {repository.Name}:{reference} (Docker-Content-Digest)");
        var mediaType = ImageJson.DetectMediaType(bytes, response.Content.Headers.ContentType?.MediaType, digest);
        return new FetchedManifest(bytes, mediaType, digest);
    }

    /// <summary>HEAD of a blob: whether the repository has it.</summary>
    public async Task<bool> HasBlobAsync(ImageReference repository, Digest digest, string scope, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(BaseUri(repository.Domain), $"{repository.Path}/blobs/{digest}");
        var what = $"HEAD {uri}";
        using var response = await SendAsync(repository.Domain, scope, () => new HttpRequestMessage(HttpMethod.Head, uri), what, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>GET of a blob from <paramref name="offset"/> (a Range request when above 0). The caller reads and disposes the response.</summary>
    internal async Task<HttpResponseMessage> GetBlobAsync(ImageReference repository, Digest digest, long offset, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseUri(repository.Domain), $"{repository.Path}/blobs/{digest}");
        var what = $"GET {uri}";
        var response = await SendAsync(repository.Domain, PullScope(repository), () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
            return request;
        }, what, cancellationToken, retry: false).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            var text = await RegistryErrorText.ReadAsync(response, cancellationToken).ConfigureAwait(false);
            response.Dispose();
            throw new RegistryNotFoundException($"{what}: blob unknown to {repository.Name}: {text}");
        }
        try
        {
            await EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
        return response;
    }

    /// <summary>Tries a cross-repository mount; true when mounted, else the upload URL the registry opened instead.</summary>
    internal async Task<(bool Mounted, Uri? UploadUrl)> MountBlobAsync(ImageReference repository, Digest digest, string fromPath, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseUri(repository.Domain), $"{repository.Path}/blobs/uploads/?mount={Uri.EscapeDataString(digest.ToString())}&from={Uri.EscapeDataString(fromPath)}");
        var what = $"POST {uri}";
        var scope = $"{PushScope(repository)} repository:{fromPath}:pull";
        using var response = await SendAsync(repository.Domain, scope, () => new HttpRequestMessage(HttpMethod.Post, uri), what, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Created) return (true, null);
        await EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        return (false, UploadLocation(response, uri, what));
    }

    /// <summary>Monolithic upload: POST to open an upload (unless one is given), then PUT the whole blob with ?digest=.</summary>
    internal async Task UploadBlobAsync(ImageReference repository, Digest digest, long size, Func<Stream> open, Action<long>? progress,
        Uri? uploadUrl, CancellationToken cancellationToken)
    {
        var scope = PushScope(repository);
        if (uploadUrl is null)
        {
            var start = new Uri(BaseUri(repository.Domain), $"{repository.Path}/blobs/uploads/");
            using var opened = await SendAsync(repository.Domain, scope, () => new HttpRequestMessage(HttpMethod.Post, start), $"POST {start}", cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(opened, $"POST {start}", cancellationToken).ConfigureAwait(false);
            uploadUrl = UploadLocation(opened, start, $"POST {start}");
        }
        var put = new Uri(uploadUrl + (uploadUrl.Query.Length > 0 ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest.ToString()));
        var what = $"PUT {put.GetLeftPart(UriPartial.Path)}";
        using var response = await SendAsync(repository.Domain, scope, () =>
        {
            var content = new StreamContent(new ProgressStream(open(), progress));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Headers.ContentLength = size;
            return new HttpRequestMessage(HttpMethod.Put, put) { Content = content };
        }, what, cancellationToken, retry: false).ConfigureAwait(false);
        await EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values)
            && Digest.TryParse(values.FirstOrDefault(), out var stored) && stored != digest)
            throw new DigestMismatchException(digest, stored, $"upload to {repository.Name}");
    }

    /// <summary>PUT of a manifest under a tag or digest, with its media type; returns the digest the registry stored it under.</summary>
    public async Task<Digest> PutManifestAsync(ImageReference repository, string reference, byte[] body, string mediaType, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(BaseUri(repository.Domain), $"{repository.Path}/manifests/{reference}");
        var what = $"PUT {uri}";
        using var response = await SendAsync(repository.Domain, PushScope(repository), () =>
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return new HttpRequestMessage(HttpMethod.Put, uri) { Content = content };
        }, what, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        var digest = Digest.Compute(body);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values)
            && Digest.TryParse(values.FirstOrDefault(), out var stored) && stored != digest)
            throw new DigestMismatchException(digest, stored, $"manifest pushed to {repository.Name}:{reference}");
        return digest;
    }

    internal static string PullScope(ImageReference repository) => $"repository:{repository.Path}:pull";

    internal static string PushScope(ImageReference repository) => $"repository:{repository.Path}:pull,push";

    internal async Task<byte[]> GetBlobBytesAsync(ImageReference repository, Digest digest, int limit, CancellationToken cancellationToken)
    {
        using var response = await GetBlobAsync(repository, digest, 0, cancellationToken).ConfigureAwait(false);
        var bytes = await ReadLimitedAsync(response, limit, $"GET blob {digest}", cancellationToken).ConfigureAwait(false);
        var actual = Digest.Compute(bytes);
        if (actual != digest) throw new DigestMismatchException(digest, actual, $"blob of {repository.Name}");
        return bytes;
    }

    /// <summary>Sends with authentication (answering one 401 challenge) and retries with backoff on transient failures.</summary>
    private async Task<HttpResponseMessage> SendAsync(string domain, string scope, Func<HttpRequestMessage> make, string what,
        CancellationToken cancellationToken, bool retry = true)
    {
        var answered = false;
        for (var attempt = 1; ; attempt++)
        {
            var request = make();
            request.Headers.Authorization = _auth.HeaderFor(domain, scope);
            var sentAuth = request.Headers.Authorization is not null;
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e, cancellationToken))
            {
                request.Dispose();
                if (!retry || attempt >= Options.MaxAttempts) throw new RegistryException($"{what}: {e.Message}", null, e, connectionFailed: true);
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                if (!answered)
                {
                    answered = true;
                    try
                    {
                        await _auth.AnswerAsync(domain, scope, response, what, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        response.Dispose();
                    }
                    if (_auth.HasAnswer(domain, scope)) { attempt--; continue; }
                }
                var text = await RegistryErrorText.ReadAsync(response, cancellationToken).ConfigureAwait(false);
                response.Dispose();
                throw new RegistryUnauthorizedException(
                    $"{what}: unauthorized: {text}{(sentAuth ? " (credentials were refused)" : "")}", HttpStatusCode.Unauthorized);
            }
            if (retry && attempt < Options.MaxAttempts && new RegistryException("", response.StatusCode).IsTransient)
            {
                response.Dispose();
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                continue;
            }
            return response;
        }
    }

    private async Task<HttpResponseMessage> SendRawAsync(Func<HttpRequestMessage> make, string what, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = make();
            try
            {
                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e, cancellationToken))
            {
                if (attempt >= Options.MaxAttempts) throw new RegistryException($"{what}: {e.Message}", null, e, connectionFailed: true);
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal TimeSpan Backoff(int attempt) => Options.RetryDelay * Math.Pow(2, attempt - 1);

    internal static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        RegistryException r => r.IsTransient,
        HttpRequestException or IOException => true,
        TaskCanceledException or OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var text = await RegistryErrorText.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Forbidden)
            throw new RegistryUnauthorizedException($"{what}: denied: {text}", response.StatusCode);
        throw new RegistryException($"{what}: {text}", response.StatusCode);
    }

    private static Uri UploadLocation(HttpResponseMessage response, Uri requestUri, string what)
    {
        var location = response.Headers.Location ?? throw new RegistryException($"{what}: upload opened without a Location header", response.StatusCode);
        return location.IsAbsoluteUri ? location : new Uri(requestUri, location);
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, int limit, string what, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > limit) throw new RegistryException($"{what}: body over the {limit}-byte limit");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A read-only stream that reports how much has been read (upload progress).</summary>
    private sealed class ProgressStream(Stream inner, Action<long>? progress) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int n)
        {
            _position += n;
            if (n > 0) progress?.Invoke(_position);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
