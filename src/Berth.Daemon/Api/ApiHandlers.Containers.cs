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

    Task DispatchContainerAsync(HttpContext http, ApiRoute route) => route.Endpoint switch
    {
        ApiEndpoint.ContainerCreate => ContainerCreateAsync(http),
        ApiEndpoint.ContainerList => ContainerListAsync(http),
        ApiEndpoint.ContainerPrune => ContainerPruneAsync(http),
        ApiEndpoint.ContainerInspect => WriteJsonAsync(http, Containers.Inspect(route.Name!), ApiJson.Context.ContainerInspect),
        ApiEndpoint.ContainerStart => ContainerStartAsync(http, route.Name!),
        ApiEndpoint.ContainerStop => ContainerStopAsync(http, route.Name!),
        ApiEndpoint.ContainerKill => NoContent(http, () => Containers.Kill(route.Name!, Text(http.Request.Query["signal"]))),
        ApiEndpoint.ContainerRestart => ContainerRestartAsync(http, route.Name!),
        ApiEndpoint.ContainerWait => ContainerWaitAsync(http, route.Name!),
        ApiEndpoint.ContainerRename => NoContent(http, () => Containers.Rename(route.Name!, Text(http.Request.Query["name"]))),
        ApiEndpoint.ContainerLogs => ContainerLogsAsync(http, route.Name!),
        ApiEndpoint.ContainerDelete => ContainerDeleteAsync(http, route.Name!),
        ApiEndpoint.ContainerAttach => ContainerAttachAsync(http, route.Name!),
        _ => throw new UnreachableException($"no handler for {route.Endpoint}"),
    };

    async Task ContainerCreateAsync(HttpContext http)
    {
        ContainerCreateRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(http.Request.Body, ApiJson.Context.ContainerCreateRequest, http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the create body is not a container config: {e.Message}");
        }
        if (request is null) throw ApiException.BadRequest("config cannot be empty in order to create a container");
        var (id, warnings) = Containers.Create(request, Text(http.Request.Query["name"]));
        http.Response.StatusCode = StatusCodes.Status201Created;
        await WriteJsonAsync(http, new ContainerCreateResponse { Id = id, Warnings = warnings }, ApiJson.Context.ContainerCreateResponse);
    }

    async Task ContainerListAsync(HttpContext http)
    {
        var query = http.Request.Query;
        int limit = Int(query["limit"], "limit") ?? -1;
        await WriteJsonAsync(http, Containers.List(Bool(query["all"]), limit, Filters(query)), ContainerJson.Context.ListContainerSummary);
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

    async Task ContainerLogsAsync(HttpContext http, string id)
    {
        var query = http.Request.Query;
        bool stdout = Bool(query["stdout"]), stderr = Bool(query["stderr"]);
        if (!stdout && !stderr) throw ApiException.BadRequest("Bad parameters: you must choose at least one stream");
        if (Text(query["since"]) is { } since && since != "0" || Text(query["until"]) is { } until && until != "0")
            throw ApiException.NotImplemented("logs since and until are not implemented yet");
        string tailText = Text(query["tail"]) ?? "all";
        int? tail = tailText == "all" ? null : int.TryParse(tailText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
        var record = Containers.Get(id);
        http.Response.StatusCode = StatusCodes.Status200OK;
        await ContainerLogs.WriteAsync(record.LogPath, stdout, stderr, tail, Bool(query["timestamps"]), record.Config.Tty, http.Response.Body, http.RequestAborted);
    }

    /// <summary>
    /// POST /containers/{id}/attach?stream=1&amp;stdout=1&amp;stderr=1: 101, then the container's output until it exits
    /// (STOPGAP: followed from the log; stdin and logs=1 wait for the monitor's attach).
    /// </summary>
    async Task ContainerAttachAsync(HttpContext http, string id)
    {
        var query = http.Request.Query;
        if (Bool(query["stdin"])) throw ApiException.NotImplemented("attaching stdin needs berth-monitor, which berthd does not launch yet");
        if (Bool(query["logs"])) throw ApiException.NotImplemented("attach with logs=1 is not implemented yet: use docker logs");
        var upgrade = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true }) throw ApiException.BadRequest("attach needs an upgraded connection (Connection: Upgrade, Upgrade: tcp)");
        var (log, exited, tty) = Containers.OpenAttach(id);
        using (log)
        {
            http.Response.Headers.ContentType = "application/vnd.docker.raw-stream";
            http.Response.Headers.Connection = "Upgrade";
            http.Response.Headers.Upgrade = "tcp";
            Hosting.HalfCloseConnection.MarkHijacked(http.Features);
            await using var stream = await upgrade.UpgradeAsync();
            // Not RequestAborted: the docker CLI half-closes its side when it sends no stdin, which Kestrel reports as
            // an abort. A client that is really gone shows as a failed write.
            if (Bool(query["stream"]))
            {
                try
                {
                    await ContainerLogs.FollowAsync(log, Bool(query["stdout"]), Bool(query["stderr"]), tty, exited, stream, CancellationToken.None);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    daemon.Log.Debug("attach ended: the client went away", ("id", id), ("error", e.Message));
                }
            }
        }
    }

    static Task NoContent(HttpContext http, Action action)
    {
        action();
        Status(http, StatusCodes.Status204NoContent);
        return Task.CompletedTask;
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
