using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Berth.Api;

/// <summary>Options of GET /containers/{id}/logs.</summary>
public sealed record LogsOptions(bool Follow = false, string? Tail = null, string? Since = null, string? Until = null, bool Timestamps = false,
    bool Stdout = true, bool Stderr = true);

/// <summary>A wait whose response header has arrived (the daemon is watching); <see cref="Result"/> completes at the condition.</summary>
public sealed class PendingWait(HttpResponseMessage response, Task<ContainerWaitResponse> result) : IDisposable
{
    public Task<ContainerWaitResponse> Result { get; } = result;

    public void Dispose() => response.Dispose();
}

// The container, exec and event routes, as the docker CLI calls them at API 1.41.
public sealed partial class BerthClient
{
    public async Task<ContainerCreateResponse> CreateContainerAsync(ContainerCreateRequest request, string? name, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("name", name);
        using var response = await SendVersionedAsync(HttpMethod.Post, "/containers/create" + query, Json(request, ApiJson.Context.ContainerCreateRequest), ct);
        return await ReadJsonAsync(response, ApiJson.Context.ContainerCreateResponse, ct);
    }

    public Task StartContainerAsync(string id, CancellationToken ct = default) => PostAsync($"/containers/{id}/start", ct);

    public Task StopContainerAsync(string id, int? timeoutSeconds, CancellationToken ct = default) =>
        PostAsync($"/containers/{id}/stop" + (timeoutSeconds is { } t ? $"?t={t}" : ""), ct);

    public Task RestartContainerAsync(string id, int? timeoutSeconds, CancellationToken ct = default) =>
        PostAsync($"/containers/{id}/restart" + (timeoutSeconds is { } t ? $"?t={t}" : ""), ct);

    public Task KillContainerAsync(string id, string? signal, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("signal", signal);
        return PostAsync($"/containers/{id}/kill" + query, ct);
    }

    public Task PauseContainerAsync(string id, CancellationToken ct = default) => PostAsync($"/containers/{id}/pause", ct);

    public Task UnpauseContainerAsync(string id, CancellationToken ct = default) => PostAsync($"/containers/{id}/unpause", ct);

    public Task RenameContainerAsync(string id, string newName, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("name", newName);
        return PostAsync($"/containers/{id}/rename" + query, ct);
    }

    public Task ResizeContainerAsync(string id, int height, int width, CancellationToken ct = default) =>
        PostAsync($"/containers/{id}/resize?h={height}&w={width}", ct);

    public async Task RemoveContainerAsync(string id, bool force, bool volumes, CancellationToken ct = default)
    {
        var query = new QueryString();
        if (force) query.Add("force", "1");
        if (volumes) query.Add("v", "1");
        using var response = await SendVersionedAsync(HttpMethod.Delete, $"/containers/{id}" + query, null, ct);
    }

    public Task<ContainerInspect> InspectContainerAsync(string id, CancellationToken ct = default) =>
        GetJsonAsync($"/containers/{id}/json", ApiJson.Context.ContainerInspect, ct);

    /// <summary>Any GET answer as raw JSON (for inspect's -f and its probing of object kinds).</summary>
    public async Task<JsonElement> GetRawJsonAsync(string path, CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Get, path, null, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        using var document = await JsonDocument.ParseAsync(body, cancellationToken: ct);
        return document.RootElement.Clone();
    }

    public Task<List<ContainerSummary>> ListContainersAsync(bool all, int? limit, bool size, ApiFilters? filters, CancellationToken ct = default)
    {
        var query = new QueryString();
        if (all) query.Add("all", "1");
        if (limit is { } n) query.Add("limit", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (size) query.Add("size", "1");
        query.Add("filters", filters?.ToQueryValue());
        return GetJsonAsync("/containers/json" + query, ApiJson.Context.ListContainerSummary, ct);
    }

    /// <summary>
    /// POST /containers/{id}/wait: returns once the daemon has answered the header (it is then watching, so a start
    /// sent after this cannot be missed); the body comes when the condition is met.
    /// </summary>
    public async Task<PendingWait> WaitContainerAsync(string id, string? condition, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("condition", condition);
        var response = await SendVersionedAsync(HttpMethod.Post, $"/containers/{id}/wait" + query, null, ct, streaming: true);
        return new PendingWait(response, ReadJsonAsync(response, ApiJson.Context.ContainerWaitResponse, ct));
    }

    /// <summary>GET /containers/{id}/logs: the body, multiplexed unless the container has a terminal. Dispose it to stop following.</summary>
    public async Task<Stream> ContainerLogsAsync(string id, LogsOptions options, CancellationToken ct = default)
    {
        var query = new QueryString();
        if (options.Follow) query.Add("follow", "1");
        if (options.Stderr) query.Add("stderr", "1");
        if (options.Stdout) query.Add("stdout", "1");
        query.Add("since", options.Since);
        query.Add("tail", options.Tail ?? "all");
        if (options.Timestamps) query.Add("timestamps", "1");
        query.Add("until", options.Until);
        var response = await SendVersionedAsync(HttpMethod.Get, $"/containers/{id}/logs" + query, null, ct, streaming: true);
        return new ResponseStream(response, await response.Content.ReadAsStreamAsync(ct));
    }

    public Task<ContainerTopResponse> TopContainerAsync(string id, string? psArgs, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("ps_args", psArgs);
        return GetJsonAsync($"/containers/{id}/top" + query, ApiJson.Context.ContainerTopResponse, ct);
    }

    public async Task<ContainerUpdateResponse> UpdateContainerAsync(string id, ContainerUpdateRequest update, CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Post, $"/containers/{id}/update", Json(update, ApiJson.Context.ContainerUpdateRequest), ct);
        return await ReadJsonAsync(response, ApiJson.Context.ContainerUpdateResponse, ct);
    }

    public async Task<ContainersPruneResponse> PruneContainersAsync(ApiFilters? filters, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("filters", filters?.ToQueryValue());
        using var response = await SendVersionedAsync(HttpMethod.Post, "/containers/prune" + query, null, ct);
        return await ReadJsonAsync(response, ApiJson.Context.ContainersPruneResponse, ct);
    }

    /// <summary>GET /containers/{id}/stats: one sample (<paramref name="stream"/> false) or one per second until cancelled.</summary>
    public async IAsyncEnumerable<ContainerStatsResponse> ContainerStatsAsync(string id, bool stream, [EnumeratorCancellation] CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Get, $"/containers/{id}/stats?stream={(stream ? 1 : 0)}", null, ct, streaming: true);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        await foreach (var sample in ReadJsonLinesAsync(body, ApiJson.Context.ContainerStatsResponse, ct))
            yield return sample;
    }

    /// <summary>GET /events: one message per line until <paramref name="until"/> or cancellation.</summary>
    public async IAsyncEnumerable<EventMessage> EventsAsync(string? since, string? until, ApiFilters? filters, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("filters", filters?.ToQueryValue());
        query.Add("since", since);
        query.Add("until", until);
        using var response = await SendVersionedAsync(HttpMethod.Get, "/events" + query, null, ct, streaming: true);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        await foreach (var message in ReadJsonLinesAsync(body, ApiJson.Context.EventMessage, ct))
            yield return message;
    }

    /// <summary>POST /containers/{id}/attach?stream=1 with the streams asked for, upgraded to a raw connection.</summary>
    public Task<HijackedConnection> AttachContainerAsync(string id, bool stdin, bool stdout, bool stderr, string? detachKeys = null, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("detachKeys", detachKeys);
        if (stderr) query.Add("stderr", "1");
        if (stdin) query.Add("stdin", "1");
        if (stdout) query.Add("stdout", "1");
        query.Add("stream", "1");
        return HijackAsync($"/containers/{id}/attach" + query, null, "text/plain", ct);
    }

    public async Task<string> CreateExecAsync(string container, ExecCreateRequest request, CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Post, $"/containers/{container}/exec", Json(request, ApiJson.Context.ExecCreateRequest), ct);
        return (await ReadJsonAsync(response, ApiJson.Context.IdResponse, ct)).Id;
    }

    /// <summary>POST /exec/{id}/start, not detached: the process's stdio on a raw connection.</summary>
    public Task<HijackedConnection> StartExecAsync(string execId, bool tty, CancellationToken ct = default) =>
        HijackAsync($"/exec/{execId}/start", JsonSerializer.SerializeToUtf8Bytes(new ExecStartRequest { Tty = tty }, ApiJson.Context.ExecStartRequest),
            "application/json", ct);

    /// <summary>POST /exec/{id}/start with Detach: the daemon starts the process and answers at once.</summary>
    public async Task StartExecDetachedAsync(string execId, bool tty, CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Post, $"/exec/{execId}/start",
            Json(new ExecStartRequest { Detach = true, Tty = tty }, ApiJson.Context.ExecStartRequest), ct);
    }

    public Task<ExecInspect> InspectExecAsync(string execId, CancellationToken ct = default) =>
        GetJsonAsync($"/exec/{execId}/json", ApiJson.Context.ExecInspect, ct);

    public Task ResizeExecAsync(string execId, int height, int width, CancellationToken ct = default) =>
        PostAsync($"/exec/{execId}/resize?h={height}&w={width}", ct);

    async Task PostAsync(string path, CancellationToken ct)
    {
        using var response = await SendVersionedAsync(HttpMethod.Post, path, null, ct);
    }

    static ByteArrayContent Json<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    static async IAsyncEnumerable<T> ReadJsonLinesAsync<T>(Stream body, JsonTypeInfo<T> type, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            T? value;
            try
            {
                value = JsonSerializer.Deserialize(line, type);
            }
            catch (JsonException e)
            {
                throw new FormatException($"bad line in the daemon's stream ({e.Message}): {(line.Length > 200 ? line[..200] + "..." : line)}");
            }
            if (value is not null) yield return value;
        }
    }

    /// <summary>
    /// A request the daemon upgrades to a raw stream (attach, exec start): written by hand on a fresh socket, since
    /// HttpClient cannot hand over a 101 connection. Anything but 101 is an error (the docker 28 client's rule).
    /// </summary>
    async Task<HijackedConnection> HijackAsync(string path, byte[]? body, string contentType, CancellationToken ct)
    {
        var version = await NegotiateAsync(ct);
        string route = $"/v{version}{path}";
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        try
        {
            try
            {
                await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Host.SocketPath), ct);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new DaemonUnreachableException(Host.ToString(), e);
            }
            var stream = new System.Net.Sockets.NetworkStream(socket, ownsSocket: false);
            var head = new StringBuilder();
            head.Append($"POST {route} HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Berth-Client/{ClientVersion} (linux)\r\n");
            head.Append("Connection: Upgrade\r\nUpgrade: tcp\r\n");
            head.Append($"Content-Type: {contentType}\r\nContent-Length: {body?.Length ?? 0}\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), ct);
            if (body is not null) await stream.WriteAsync(body, ct);
            await stream.FlushAsync(ct);

            var (status, reason, headers) = await ReadResponseHeadAsync(stream, route, ct);
            if (status == 101) return new HijackedConnection(socket, stream);
            string text = await ReadErrorBodyAsync(stream, headers, ct);
            if (status >= 400)
            {
                string message = text.Trim();
                if (headers.GetValueOrDefault("content-type", "").StartsWith("application/json", StringComparison.Ordinal))
                {
                    try
                    {
                        message = JsonSerializer.Deserialize(text, ApiJson.Context.ErrorResponse)?.Message ?? message;
                    }
                    catch (JsonException)
                    {
                    }
                }
                if (message.Length == 0)
                    message = $"request returned {reason} for API route and version {route}, check if the server supports the requested API version";
                throw new DaemonErrorException(status, message);
            }
            throw new IOException($"unable to upgrade to tcp, received {status}");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads the status line and headers byte by byte, so that no stream byte after them is consumed.</summary>
    static async Task<(int Status, string Reason, Dictionary<string, string> Headers)> ReadResponseHeadAsync(Stream stream, string route, CancellationToken ct)
    {
        var line = new List<byte>();
        var lines = new List<string>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, ct) == 0)
                throw new IOException($"the daemon closed the connection before answering {route}");
            if (one[0] == '\n')
            {
                string text = Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
                line.Clear();
                if (text.Length == 0) break;
                lines.Add(text);
                if (lines.Count > 200) throw new IOException($"the daemon's answer to {route} has more than 200 header lines");
                continue;
            }
            line.Add(one[0]);
            if (line.Count > 64 * 1024) throw new IOException($"the daemon's answer to {route} has a header line over 64 KiB");
        }
        if (lines.Count == 0) throw new IOException($"the daemon's answer to {route} has no status line");
        string[] parts = lines[0].Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(parts[1], out int status))
            throw new IOException($"the daemon's answer to {route} is not HTTP: {lines[0]}");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string header in lines.Skip(1))
        {
            int colon = header.IndexOf(':');
            if (colon > 0) headers[header[..colon].Trim().ToLowerInvariant()] = header[(colon + 1)..].Trim();
        }
        return (status, parts.Length > 2 ? parts[2] : "", headers);
    }

    /// <summary>The body of a refused upgrade: by Content-Length, chunked, or to the end; at most 1 MiB.</summary>
    static async Task<string> ReadErrorBodyAsync(Stream stream, Dictionary<string, string> headers, CancellationToken ct)
    {
        const int limit = 1024 * 1024;
        using var buffer = new MemoryStream();
        if (headers.TryGetValue("content-length", out var lengthText) && int.TryParse(lengthText, out int length))
        {
            var bytes = new byte[Math.Min(length, limit)];
            int total = 0;
            while (total < bytes.Length)
            {
                int n = await stream.ReadAsync(bytes.AsMemory(total), ct);
                if (n == 0) break;
                total += n;
            }
            return Encoding.UTF8.GetString(bytes, 0, total);
        }
        var chunk = new byte[8192];
        while (buffer.Length < limit)
        {
            int n = await stream.ReadAsync(chunk, ct);
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
        }
        string raw = Encoding.UTF8.GetString(buffer.ToArray());
        if (!headers.GetValueOrDefault("transfer-encoding", "").Contains("chunked", StringComparison.OrdinalIgnoreCase)) return raw;
        // Chunked: keep the data lines, drop the size lines.
        var text = new StringBuilder();
        var rest = raw.AsSpan();
        while (true)
        {
            int eol = rest.IndexOf("\r\n");
            if (eol < 0 || !int.TryParse(rest[..eol], System.Globalization.NumberStyles.HexNumber, null, out int size) || size == 0) break;
            rest = rest[(eol + 2)..];
            if (rest.Length < size) break;
            text.Append(rest[..size]);
            rest = rest[Math.Min(rest.Length, size + 2)..];
        }
        return text.ToString();
    }

    /// <summary>A streamed answer's body that also ends its response when disposed.</summary>
    sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
    {
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(buffer, ct);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => inner.ReadAsync(buffer, offset, count, ct);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// A connection the daemon switched to raw bytes (attach, exec start): read the output from <see cref="Stream"/>,
/// write stdin to it, and <see cref="CloseWrite"/> at stdin's end so that the daemon sees EOF.
/// </summary>
public sealed class HijackedConnection(System.Net.Sockets.Socket socket, Stream stream) : IDisposable
{
    public Stream Stream { get; } = stream;

    public void CloseWrite()
    {
        try
        {
            socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Already closed by the daemon: nothing left to tell it.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        Stream.Dispose();
        socket.Dispose();
    }
}
