using System.Diagnostics;
using System.Text.Json;
using Berth.Api;
using Berth.Cgroups;
using Berth.Daemon.Containers;
using Berth.Daemon.Events;
using Berth.Engine.Logs;
using Microsoft.AspNetCore.Http;

namespace Berth.Daemon.Api;

/// <summary>
/// The endpoints that read what containers produce: the list with dockerd's filters, logs (tail, since, until,
/// follow until the container stops), stats from the container's cgroup, top through ps, and the event stream.
/// </summary>
public sealed partial class ApiHandlers
{
    static readonly TimeSpan StatsInterval = TimeSpan.FromSeconds(1);

    Task DispatchContainerDataAsync(HttpContext http, ApiRoute route) => route.Endpoint switch
    {
        ApiEndpoint.ContainerList => ContainerListAsync(http),
        ApiEndpoint.ContainerLogs => ContainerLogsAsync(http, route.Name!),
        ApiEndpoint.ContainerStats => ContainerStatsAsync(http, route.Name!),
        ApiEndpoint.ContainerTop => ContainerTopAsync(http, route.Name!),
        ApiEndpoint.ContainerArchiveStat => ArchiveStatAsync(http, route.Name!),
        ApiEndpoint.ContainerArchiveGet => ArchiveGetAsync(http, route.Name!),
        ApiEndpoint.ContainerArchivePut => ArchivePutAsync(http, route.Name!),
        ApiEndpoint.Events => EventsAsync(http),
        _ => throw new UnreachableException($"no handler for {route.Endpoint}"),
    };

    /// <summary>GET /containers/json?all=&amp;limit=&amp;size=&amp;filters= (size is accepted; berthd reports no sizes).</summary>
    async Task ContainerListAsync(HttpContext http)
    {
        var query = http.Request.Query;
        int limit;
        try
        {
            limit = ContainerListFilter.ParseLimit(Text(query["limit"]));
        }
        catch (ContainerListFilterException e)
        {
            throw new ApiException(e.StatusCode, e.Message, e);
        }
        await WriteJsonAsync(http, Containers.List(Bool(query["all"]), limit, Filters(query)), ContainerJson.Context.ListContainerSummary);
    }

    /// <summary>
    /// GET /containers/{id}/logs: the json-file log's entries of the asked streams, as multiplexed frames (raw with a
    /// terminal), each prefixed with its time with timestamps=1; with follow=1 what the container writes next, until
    /// it stops (or is removed) or the client goes.
    /// </summary>
    async Task ContainerLogsAsync(HttpContext http, string reference)
    {
        var query = http.Request.Query;
        bool stdout = Bool(query["stdout"]), stderr = Bool(query["stderr"]);
        if (!stdout && !stderr) throw ApiException.BadRequest("Bad parameters: you must choose at least one stream");
        var ct = http.RequestAborted;
        var record = Containers.Get(reference);
        if (record.HostConfig.LogConfig.Type == "none")
            throw ApiException.NotImplemented("configured logging driver does not support reading");
        var options = new LogReadOptions
        {
            Tail = LogReadOptions.ParseTail(Text(query["tail"])),
            SinceNanos = QueryTime(query, "since"),
            UntilNanos = QueryTime(query, "until"),
            Follow = Bool(query["follow"]),
        };
        bool timestamps = Bool(query["timestamps"]), raw = record.Config.Tty;
        // The exit to wait for is taken before the state is looked at, so an exit in between still ends the follow;
        // the wait is dropped with the request.
        using var request = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var nextExit = options.Follow ? Containers.WaitAsync(record.Id, "next-exit", request.Token) : Task.CompletedTask;
        Task stopped = options.Follow && record.Running ? nextExit : Task.CompletedTask;
        try
        {
            await WriteLogsAsync(http.Response, record.LogPath, options, stopped, stdout, stderr, timestamps, raw, ct);
        }
        finally
        {
            request.Cancel();
        }
    }

    static async Task WriteLogsAsync(HttpResponse response, string logPath, LogReadOptions options, Task stopped,
        bool stdout, bool stderr, bool timestamps, bool raw, CancellationToken ct)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = raw ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        // The headers go first, as dockerd sends them, so an empty log is an empty chunked body: Kestrel would answer
        // Content-Length: 0, on which Docker.DotNet.Enhanced's chunked reader fails (Testcontainers' log wait strategy).
        await response.StartAsync(ct);
        await response.Body.FlushAsync(ct);
        await foreach (var entry in JsonFileLogReader.ReadAsync(logPath, options, stopped, ct))
        {
            if (!(entry.Stream == LogStream.Stdout ? stdout : stderr)) continue;
            var stream = entry.Stream == LogStream.Stdout ? StdStream.Stdout : StdStream.Stderr;
            ReadOnlyMemory<byte> line = entry.Line;
            if (timestamps)
                line = (byte[])[.. System.Text.Encoding.ASCII.GetBytes(LogTimestamps.Format(entry.UnixNanos) + " "), .. entry.Line.Span];
            await MultiplexedStream.WriteAsync(response.Body, stream, line, raw, ct);
            if (options.Follow) await response.Body.FlushAsync(ct);
        }
    }

    /// <summary>A since/until query value (unix seconds with an optional fraction) in unix nanoseconds; null when absent (until=0 too, as the CLI's "no until").</summary>
    static long? QueryTime(IQueryCollection query, string name)
    {
        string? text = Text(query[name]);
        if (text is null || (name == "until" && text == "0")) return null;
        try
        {
            return ApiTimestamps.ParseQuery(text);
        }
        catch (FormatException e)
        {
            throw ApiException.BadRequest($"invalid value for {name}: {e.Message}");
        }
    }

    /// <summary>
    /// GET /containers/{id}/stats?stream=&amp;one-shot=: with stream (the default) a sample a second until the container
    /// stops, each with the one before as precpu; without, one sample whose precpu was read a second earlier (one-shot:
    /// at once, without precpu). A stopped container without stream gets dockerd's empty sample.
    /// </summary>
    async Task ContainerStatsAsync(HttpContext http, string reference)
    {
        var query = http.Request.Query;
        bool stream = !query.ContainsKey("stream") || Bool(query["stream"]), oneShot = Bool(query["one-shot"]);
        if (stream && oneShot) throw ApiException.BadRequest("cannot have stream=true and one-shot=true");
        var record = Containers.Get(reference);
        var ct = http.RequestAborted;
        var cgroup = record.Running ? CgroupOf(record.Id) : null;
        var response = http.Response;
        response.ContentType = "application/json";
        if (cgroup is null)
        {
            await WriteStatsAsync(response, new ContainerStatsResponse { Id = record.Id, Name = record.Name }, ct);
            return;
        }
        bool v2 = cgroup.Mode == CgroupMode.V2;
        StatsSample? previous = null;
        if (!stream && !oneShot)
        {
            previous = HostCpu.Sample(cgroup.Stats());
            await Task.Delay(StatsInterval, ct);
        }
        while (true)
        {
            var current = HostCpu.Sample(cgroup.Stats());
            await WriteStatsAsync(response, ContainerStatsConverter.Convert(record.Id, record.Name, v2, ContainerCgroup.MachineMemory, current, previous), ct);
            if (!stream) return;
            await response.Body.FlushAsync(ct);
            previous = current;
            await Task.Delay(StatsInterval, ct);
            if (!record.Running) return;
        }
    }

    static async Task WriteStatsAsync(HttpResponse response, ContainerStatsResponse stats, CancellationToken ct)
    {
        await JsonSerializer.SerializeAsync(response.Body, stats, ApiJson.Context.ContainerStatsResponse, ct);
        await response.Body.WriteAsync("\n"u8.ToArray(), ct);
    }

    CgroupManager? CgroupOf(string id)
    {
        try
        {
            return ContainerCgroup.Of(daemon.Options.ExecRoot, id);
        }
        catch (CgroupException e)
        {
            throw new ApiException(500, $"cannot find the cgroup of container {id}: {e.Message}", e);
        }
    }

    /// <summary>GET /containers/{id}/top?ps_args=: ps's rows of the container's processes (those in its cgroup).</summary>
    async Task ContainerTopAsync(HttpContext http, string reference)
    {
        string? psArgs = Text(http.Request.Query["ps_args"]);
        var record = Containers.Get(reference);
        var cgroup = record.Running ? CgroupOf(record.Id) : null;
        if (cgroup is null) throw ApiException.Conflict($"Container {record.Id} is not running");
        ContainerTopResponse top;
        try
        {
            top = await Task.Run(() => ContainerTop.Run(cgroup.Pids(), psArgs), http.RequestAborted);
        }
        catch (ContainerTopException e)
        {
            throw new ApiException(500, e.Message, e);
        }
        await WriteJsonAsync(http, top, ApiJson.Context.ContainerTopResponse);
    }

    /// <summary>
    /// GET /events?since=&amp;until=&amp;filters=: the kept events from since, then each new one as it happens (flushed
    /// one by one), until until passes or the client goes.
    /// </summary>
    async Task EventsAsync(HttpContext http)
    {
        var query = http.Request.Query;
        EventSubscription subscription;
        try
        {
            subscription = daemon.Events.Subscribe(Filters(query), Text(query["since"]), Text(query["until"]));
        }
        catch (EventQueryException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
        catch (FormatException e)
        {
            throw ApiException.BadRequest($"invalid since or until: {e.Message}");
        }
        using (subscription)
        {
            var response = http.Response;
            var ct = http.RequestAborted;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            await response.StartAsync(ct);
            await response.Body.FlushAsync(ct);
            await foreach (var message in subscription.ReadAllAsync(ct))
            {
                await JsonSerializer.SerializeAsync(response.Body, message, ApiJson.Context.EventMessage, ct);
                await response.Body.WriteAsync("\n"u8.ToArray(), ct);
                await response.Body.FlushAsync(ct);
            }
        }
    }
}
