using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Berth.Api;
using Berth.Daemon.Containers;
using Microsoft.AspNetCore.Http;

namespace Berth.Daemon.Api;

/// <summary>The container endpoints: parameters in, the service's answer out with dockerd's status codes.</summary>
public sealed partial class ApiHandlers
{
    ContainerService Containers => daemon.Containers
        ?? throw ApiException.NotImplemented("containers need berthd's own image store: this daemon runs with another image backend");

    ExecService Execs => daemon.Execs
        ?? throw ApiException.NotImplemented("containers need berthd's own image store: this daemon runs with another image backend");

    Task DispatchContainerAsync(HttpContext http, ApiRoute route) => route.Endpoint switch
    {
        ApiEndpoint.ContainerCreate => ContainerCreateAsync(http),
        ApiEndpoint.ContainerPrune => ContainerPruneAsync(http),
        ApiEndpoint.ContainerInspect => WriteJsonAsync(http, Containers.Inspect(route.Name!), ApiJson.Context.ContainerInspect),
        ApiEndpoint.ContainerStart => ContainerStartAsync(http, route.Name!),
        ApiEndpoint.ContainerStop => ContainerStopAsync(http, route.Name!),
        ApiEndpoint.ContainerKill => NoContentAsync(http, () => Containers.KillAsync(route.Name!, Text(http.Request.Query["signal"]))),
        ApiEndpoint.ContainerRestart => ContainerRestartAsync(http, route.Name!),
        ApiEndpoint.ContainerWait => ContainerWaitAsync(http, route.Name!),
        ApiEndpoint.ContainerRename => NoContent(http, () => Containers.Rename(route.Name!, Text(http.Request.Query["name"]))),
        ApiEndpoint.ContainerDelete => ContainerDeleteAsync(http, route.Name!),
        ApiEndpoint.ContainerAttach => ContainerAttachAsync(http, route.Name!),
        ApiEndpoint.ContainerResize => NoContentOk(http, () => Containers.Resize(route.Name!, Size(http, "h"), Size(http, "w"))),
        ApiEndpoint.ContainerPause => ContainerPauseAsync(http, route.Name!, pause: true),
        ApiEndpoint.ContainerUnpause => ContainerPauseAsync(http, route.Name!, pause: false),
        ApiEndpoint.ContainerUpdate => ContainerUpdateAsync(http, route.Name!),
        ApiEndpoint.ExecCreate => ExecCreateAsync(http, route.Name!),
        ApiEndpoint.ExecStart => ExecStartAsync(http, route.Name!),
        ApiEndpoint.ExecInspect => WriteJsonAsync(http, Execs.Inspect(route.Name!), ExecJsonContext.Default.ExecInspectResponse),
        ApiEndpoint.ExecResize => NoContentOk(http, () => Execs.Resize(route.Name!, Size(http, "h"), Size(http, "w"))),
        _ => DispatchContainerDataAsync(http, route),
    };

    async Task ContainerCreateAsync(HttpContext http)
    {
        var request = await ReadBodyAsync(http, ApiJson.Context.ContainerCreateRequest, "the create body is not a container config")
            ?? throw ApiException.BadRequest("config cannot be empty in order to create a container");
        var (id, warnings) = Containers.Create(request, Text(http.Request.Query["name"]));
        http.Response.StatusCode = StatusCodes.Status201Created;
        await WriteJsonAsync(http, new ContainerCreateResponse { Id = id, Warnings = warnings }, ApiJson.Context.ContainerCreateResponse);
    }

    async Task VolumeCreateAsync(HttpContext http)
    {
        var request = await ReadBodyAsync(http, ApiJson.Context.VolumeCreateRequest, "the create body is not a volume config") ?? new VolumeCreateRequest();
        var volume = Containers.Volumes.Create(request);
        http.Response.StatusCode = StatusCodes.Status201Created;
        await WriteJsonAsync(http, volume, ApiJson.Context.Volume);
    }

    async Task NetworkCreateAsync(HttpContext http)
    {
        var request = await ReadBodyAsync(http, ApiJson.Context.NetworkCreateRequest, "the create body is not a network config") ?? new NetworkCreateRequest();
        var created = Containers.Networks.Create(request);
        http.Response.StatusCode = StatusCodes.Status201Created;
        await WriteJsonAsync(http, created, ApiJson.Context.NetworkCreateResponse);
    }

    async Task NetworkConnectAsync(HttpContext http, string network)
    {
        var request = await ReadBodyAsync(http, ApiJson.Context.NetworkConnectRequest, "the connect body is not a container and endpoint config")
            ?? throw ApiException.BadRequest("the connect body names no container");
        await Containers.ConnectAsync(network, request);
        Status(http, StatusCodes.Status200OK);
    }

    async Task NetworkDisconnectAsync(HttpContext http, string network)
    {
        var request = await ReadBodyAsync(http, ApiJson.Context.NetworkDisconnectRequest, "the disconnect body is not a container")
            ?? throw ApiException.BadRequest("the disconnect body names no container");
        await Containers.DisconnectAsync(network, request);
        Status(http, StatusCodes.Status200OK);
    }

    async Task ContainerPruneAsync(HttpContext http)
    {
        if (!Filters(http.Request.Query).IsEmpty)
            throw ApiException.NotImplemented("container prune filters (until, label) are not implemented: prune without filters");
        await WriteJsonAsync(http, await Containers.PruneAsync(), ContainerJson.Context.ContainersPruneReport);
    }

    async Task ContainerStartAsync(HttpContext http, string id) =>
        Status(http, await Containers.StartAsync(id) ? StatusCodes.Status204NoContent : StatusCodes.Status304NotModified);

    async Task ContainerStopAsync(HttpContext http, string id) =>
        Status(http, await Containers.StopAsync(id, Int(http.Request.Query["t"], "t")) ? StatusCodes.Status204NoContent : StatusCodes.Status304NotModified);

    async Task ContainerRestartAsync(HttpContext http, string id)
    {
        await Containers.RestartAsync(id, Int(http.Request.Query["t"], "t"));
        Status(http, StatusCodes.Status204NoContent);
    }

    async Task ContainerPauseAsync(HttpContext http, string id, bool pause)
    {
        await Containers.PauseAsync(id, pause);
        Status(http, StatusCodes.Status204NoContent);
    }

    /// <summary>200 <c>{"Warnings":[]}</c>, as dockerd.</summary>
    async Task ContainerUpdateAsync(HttpContext http, string id)
    {
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted);
        var warnings = await Containers.UpdateAsync(id, ResourceUpdate.Parse(body.ToArray()));
        await WriteJsonAsync(http, new ContainerUpdateResponse { Warnings = warnings }, ApiJson.Context.ContainerUpdateResponse);
    }

    async Task ContainerDeleteAsync(HttpContext http, string id)
    {
        var query = http.Request.Query;
        await Containers.RemoveAsync(id, Bool(query["force"]), Bool(query["v"]));
        Status(http, StatusCodes.Status204NoContent);
    }

    /// <summary>The header goes out at once (docker run sends start only after it), the body at the exit.</summary>
    async Task ContainerWaitAsync(HttpContext http, string id)
    {
        string condition = Text(http.Request.Query["condition"]) ?? "";
        if (condition is not ("" or "not-running" or "next-exit" or "removed"))
            throw ApiException.BadRequest($"invalid condition: \"{condition}\"");
        Containers.Get(id);
        var wait = Containers.WaitAsync(id, condition, http.RequestAborted);
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json";
        await http.Response.StartAsync(http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
        int code = await wait;
        await JsonSerializer.SerializeAsync(http.Response.Body, new ContainerWaitResponse { StatusCode = code }, ContainerJson.Context.ContainerWaitResponse, http.RequestAborted);
        await http.Response.Body.WriteAsync("\n"u8.ToArray(), http.RequestAborted);
    }

    /// <summary>
    /// POST /containers/{id}/attach?stream=1&amp;stdin=1&amp;stdout=1&amp;stderr=1: 101, then the monitor's attach stream
    /// (multiplexed frames without a tty, raw with one) and the client's stdin to it, until the container's output ends.
    /// Before the start (docker run attaches, then starts) the stream joins when the start has created the container.
    /// </summary>
    async Task ContainerAttachAsync(HttpContext http, string id)
    {
        var query = http.Request.Query;
        var upgrade = Upgradable(http);
        bool stdin = Bool(query["stdin"]), stdout = Bool(query["stdout"]), stderr = Bool(query["stderr"]);
        bool logs = Bool(query["logs"]), live = !query.ContainsKey("stream") || Bool(query["stream"]);
        if (logs && !live)
        {
            // The log alone, then the end (dockerd's logs=1&stream=0).
            var stopped = Containers.Get(id);
            await using var logClient = await Hijack(http, upgrade);
            await AttachLogReplay.WriteAsync(logClient, stopped.LogPath, null, stdout, stderr, stopped.Config.Tty, CancellationToken.None);
            return;
        }
        var (monitor, tty) = Containers.Attach(id, stdin, stdout, stderr);
        // Attached first: what is logged from here on comes live, what was logged before is replayed.
        long attachedAt = AttachLogReplay.Now();
        await using var client = await Hijack(http, upgrade);
        if (logs) await AttachLogReplay.WriteAsync(client, Containers.Get(id).LogPath, attachedAt, stdout, stderr, tty, CancellationToken.None);
        Stream stream;
        try
        {
            stream = await monitor;
        }
        catch (Exception e) when (e is IOException or ExecDrivers.MonitorException)
        {
            daemon.Log.Debug("attach ended before the container started", ("id", id), ("error", e.Message));
            return;
        }
        await RelayAsync(client, stream, stdin, id);
    }

    static Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature Upgradable(HttpContext http) =>
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade ? upgrade
            : throw ApiException.BadRequest("attach needs an upgraded connection (Connection: Upgrade, Upgrade: tcp)");

    static async Task<Stream> Hijack(HttpContext http, Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature upgrade)
    {
        http.Response.Headers.ContentType = "application/vnd.docker.raw-stream";
        http.Response.Headers.Connection = "Upgrade";
        http.Response.Headers.Upgrade = "tcp";
        Hosting.HalfCloseConnection.MarkHijacked(http.Features);
        return await upgrade.UpgradeAsync();
    }

    /// <summary>
    /// The monitor's output to the client until it ends; with stdin, the client's bytes to the monitor until the
    /// client's EOF, which is passed on as a half-close. Not RequestAborted: the docker CLI half-closes its side when it
    /// sends no stdin, which Kestrel reports as an abort; a client that is really gone shows as a failed write.
    /// </summary>
    async Task RelayAsync(Stream client, Stream monitor, bool stdin, string id)
    {
        await using (monitor)
        {
            Task input = stdin ? Task.Run(async () =>
            {
                try
                {
                    await client.CopyToAsync(monitor);
                    if (monitor is System.Net.Sockets.NetworkStream network) network.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException or OperationCanceledException)
                {
                    // Either side went away.
                }
            }) : Task.CompletedTask;
            try
            {
                await monitor.CopyToAsync(client);
                await client.FlushAsync();
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                daemon.Log.Debug("attach ended: the client went away", ("id", id), ("error", e.Message));
            }
        }
    }

    async Task ExecCreateAsync(HttpContext http, string container)
    {
        var request = await ReadBodyAsync(http, ExecJsonContext.Default.ExecCreateRequest, "the exec body is not an exec config")
            ?? throw ApiException.BadRequest("No exec command specified");
        string id = Execs.Create(container, request);
        http.Response.StatusCode = StatusCodes.Status201Created;
        await WriteJsonAsync(http, new IdResponse { Id = id }, ApiJson.Context.IdResponse);
    }

    /// <summary>POST /exec/{id}/start: hijacked as attach (its stdin and output), or with Detach a plain 200 while the output is drained here.</summary>
    async Task ExecStartAsync(HttpContext http, string id)
    {
        var request = await ExecStartRequestAsync(http);
        if (request.Detach)
        {
            var (output, _, _) = Execs.Start(id, detach: true);
            _ = Task.Run(async () =>
            {
                await using (output)
                {
                    try
                    {
                        await output.CopyToAsync(Stream.Null);
                    }
                    catch (IOException)
                    {
                    }
                }
                await Execs.FinishAsync(id);
            });
            Status(http, StatusCodes.Status200OK);
            return;
        }
        var upgrade = Upgradable(http);
        var (stream, _, stdin) = Execs.Start(id, detach: false);
        await using var client = await Hijack(http, upgrade);
        await RelayAsync(client, stream, stdin, id);
        // The exit code is known before the client, whose stream ends here, asks for it.
        await Execs.FinishAsync(id);
    }

    /// <summary>
    /// The exec start body: from the request, or, for an upgrade request (which Kestrel takes only without a body),
    /// from the header <see cref="Hosting.ExecStartBody"/> moved it to.
    /// </summary>
    static async Task<ExecStartRequest> ExecStartRequestAsync(HttpContext http)
    {
        const string invalid = "the exec start body is not valid";
        if (Text(http.Request.Headers[Hosting.ExecStartBody.HeaderName]) is { } hoisted)
        {
            try
            {
                return JsonSerializer.Deserialize(Convert.FromBase64String(hoisted), ApiJson.Context.ExecStartRequest) ?? new ExecStartRequest();
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                throw ApiException.BadRequest($"{invalid}: {e.Message}");
            }
        }
        return http.Request.ContentLength is 0 ? new ExecStartRequest()
            : await ReadBodyAsync(http, ApiJson.Context.ExecStartRequest, invalid) ?? new ExecStartRequest();
    }

    /// <summary>A JSON body; 400 starting with <paramref name="invalid"/> when it does not parse.</summary>
    static async Task<T?> ReadBodyAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string invalid)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync(http.Request.Body, type, http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"{invalid}: {e.Message}");
        }
    }

    /// <summary>h and w of a resize: 400 naming the one that is not a positive number.</summary>
    static int Size(HttpContext http, string name) =>
        Int(http.Request.Query[name], name) is { } n and > 0 and <= ushort.MaxValue ? n
            : throw ApiException.BadRequest($"invalid value for {name}: a terminal size from 1 to 65535 is required");

    /// <summary>200 without a body, as dockerd answers resize.</summary>
    static Task NoContentOk(HttpContext http, Action action)
    {
        action();
        Status(http, StatusCodes.Status200OK);
        return Task.CompletedTask;
    }

    static Task NoContent(HttpContext http, Action action)
    {
        action();
        Status(http, StatusCodes.Status204NoContent);
        return Task.CompletedTask;
    }

    static async Task NoContentAsync(HttpContext http, Func<Task> action)
    {
        await action();
        Status(http, StatusCodes.Status204NoContent);
    }

    /// <summary>A bodiless answer (204, 304: Kestrel sends no Content-Length with them).</summary>
    static void Status(HttpContext http, int status) => http.Response.StatusCode = status;

    /// <summary>An integer query parameter, null when absent; 400 naming it when it is not a number.</summary>
    static int? Int(Microsoft.Extensions.Primitives.StringValues values, string name)
    {
        string? text = Text(values);
        if (text is null) return null;
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n
            : throw ApiException.BadRequest($"invalid value for {name}: {text} is not an integer");
    }
}
