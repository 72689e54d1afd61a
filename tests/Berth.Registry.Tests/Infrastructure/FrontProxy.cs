using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Berth.Images;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Registry.Tests.Infrastructure;

/// <summary>
/// An HTTP proxy on 127.0.0.1 in front of a real registry, recording requests and injecting faults:
/// cutting a blob transfer after N bytes, serving altered blob bytes, or demanding Bearer tokens
/// from its own token endpoint (the registry behind it has no auth).
/// </summary>
public sealed class FrontProxy : IAsyncDisposable
{
    public const string TokenUser = "tokuser";
    public const string TokenPassword = "tokpass";
    private const string GoodToken = "berth-test-token";

    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly ConcurrentDictionary<Digest, (long After, int Times)> _cuts = new();
    private int _tokenRequests;

    public FrontProxy(int targetPort)
    {
        _upstream = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{targetPort}"),
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Run(HandleAsync);
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
    }

    public int Port { get; }
    public string Domain => $"127.0.0.1:{Port}";
    public ConcurrentQueue<(string Method, string Path, string? Range)> Requests { get; } = new();
    public int TokenRequests => _tokenRequests;
    /// <summary>Demand "Bearer" tokens from /token (which wants basic credentials when <see cref="TokenNeedsCredentials"/>).</summary>
    public bool RequireBearer { get; set; }
    public bool TokenNeedsCredentials { get; set; }

    /// <summary>The next <paramref name="times"/> GETs of a blob send its headers and only <paramref name="after"/> bytes, then drop the connection.</summary>
    public void CutBlob(Digest digest, long after, int times) => _cuts[digest] = (after, times);

    public int BlobGets(Digest digest) => Requests.Count(r => r.Method == "GET" && r.Path.EndsWith("/blobs/" + digest, StringComparison.Ordinal));

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value + request.QueryString.Value;
        Requests.Enqueue((request.Method, request.Path.Value ?? "", request.Headers.Range.FirstOrDefault()));

        if (request.Path == "/token")
        {
            Interlocked.Increment(ref _tokenRequests);
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TokenUser}:{TokenPassword}"));
            if (TokenNeedsCredentials && request.Headers.Authorization != expected)
            {
                context.Response.StatusCode = 401;
                await context.Response.WriteAsync("""{"errors":[{"code":"UNAUTHORIZED","message":"bad token credentials"}]}""");
                return;
            }
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$"""{"token":"{{GoodToken}}","expires_in":300}""");
            return;
        }
        if (RequireBearer && request.Headers.Authorization != "Bearer " + GoodToken)
        {
            var name = request.Path.Value!.Split('/').Skip(2).TakeWhile(p => p is not ("manifests" or "blobs" or "tags"));
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate =
                $"Bearer realm=\"http://{Domain}/token\",service=\"berth-test\",scope=\"repository:{string.Join('/', name)}:pull\"";
            await context.Response.WriteAsync("""{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}""");
            return;
        }

        using var forward = new HttpRequestMessage(new HttpMethod(request.Method), path);
        if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            forward.Content = new StreamContent(request.Body);
            if (request.ContentType is { } type) forward.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            if (request.ContentLength is { } length) forward.Content.Headers.ContentLength = length;
        }
        foreach (var (key, value) in request.Headers)
            if (key is not ("Host" or "Authorization" or "Content-Type" or "Content-Length" or "Transfer-Encoding"))
                forward.Headers.TryAddWithoutValidation(key, value.ToArray());
        using var response = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (key, value) in response.Headers.Concat(response.Content.Headers))
            if (key is not ("Transfer-Encoding" or "Connection"))
                context.Response.Headers[key] = value.ToArray();
        await using var body = await response.Content.ReadAsStreamAsync();
        var digestText = request.Path.Value!.Contains("/blobs/sha256:") ? request.Path.Value[(request.Path.Value.LastIndexOf('/') + 1)..] : null;
        if (request.Method == "GET" && digestText is not null && Digest.TryParse(digestText, out var digest)
            && _cuts.TryGetValue(digest, out var cut) && cut.Times > 0 && response.IsSuccessStatusCode)
        {
            _cuts[digest] = (cut.After, cut.Times - 1);
            var buffer = new byte[cut.After];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await body.ReadAsync(buffer.AsMemory(read));
                if (n == 0) break;
                read += n;
            }
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read));
            await context.Response.Body.FlushAsync();
            // Let the client take in what was sent before the reset (a reset drops unread received data).
            await Task.Delay(200);
            context.Abort();
            return;
        }
        await body.CopyToAsync(context.Response.Body);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
