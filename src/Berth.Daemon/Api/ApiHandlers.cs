using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Berth.Api;
using Berth.Daemon.Hosting;
using Microsoft.AspNetCore.Http;

namespace Berth.Daemon.Api;

/// <summary>
/// The one terminal handler of berthd: version check, routing, the endpoint, and the error answer.
/// Every error is <c>{"message"}</c> with dockerd's status code; a failure inside a progress stream is an
/// error line; inside a tar stream the connection is cut so the client cannot take a short tar for a whole one.
/// </summary>
public sealed partial class ApiHandlers(DaemonContext daemon)
{
    public async Task HandleAsync(HttpContext http)
    {
        var started = Stopwatch.GetTimestamp();
        var response = http.Response;
        response.Headers["Api-Version"] = ApiVersion.Current.ToString();
        response.Headers["Docker-Experimental"] = "false";
        response.Headers["Ostype"] = "linux";
        response.Headers["Server"] = $"Berth/{daemon.Engine.Version} (linux)";
        try
        {
            var (versionText, path) = ApiRouter.SplitVersion(http.Request.Path.Value ?? "/");
            if (versionText is not null) CheckVersion(versionText);
            var route = ApiRouter.Match(http.Request.Method, path) ?? throw ApiException.NotFound("page not found");
            await DispatchAsync(http, route);
        }
        catch (ApiException e)
        {
            await FailAsync(http, e.StatusCode, e.Message);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away (docker run -d closes its wait): nothing to answer.
        }
        catch (Exception e)
        {
            daemon.Log.Error("request failed", ("method", http.Request.Method), ("path", http.Request.Path.Value), ("error", e.ToString()));
            await FailAsync(http, StatusCodes.Status500InternalServerError, e.Message);
        }
        finally
        {
            if (daemon.Log.IsEnabled(LogLevel.Debug))
                daemon.Log.Debug("request", ("method", http.Request.Method), ("path", http.Request.Path.Value + http.Request.QueryString.Value),
                    ("status", response.StatusCode), ("ms", Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>dockerd's words and 400 for a version outside [minimum, maximum served].</summary>
    static void CheckVersion(string text)
    {
        if (!ApiVersion.TryParse(text, out var version))
            throw ApiException.BadRequest($"invalid API version {text}: expected MAJOR.MINOR");
        if (version > ApiVersion.MaximumServed)
            throw ApiException.BadRequest($"client version {text} is too new. Maximum supported API version is {ApiVersion.MaximumServed}");
        if (version < ApiVersion.Minimum)
            throw ApiException.BadRequest($"client version {text} is too old. Minimum supported API version is {ApiVersion.Minimum}, please upgrade your client to a newer version");
    }

    static async Task FailAsync(HttpContext http, int status, string message)
    {
        var response = http.Response;
        if (!response.HasStarted)
        {
            response.Headers.ContentLength = null;
            response.StatusCode = status;
            await WriteJsonAsync(http, new ErrorResponse(message), ApiJson.Context.ErrorResponse);
        }
        else if (response.ContentType == "application/json")
            await new ProgressWriter(response).WriteErrorAsync(message, CancellationToken.None);
        else
            http.Abort();
    }

    Task DispatchAsync(HttpContext http, ApiRoute route) => route.Endpoint switch
    {
        ApiEndpoint.Ping => PingAsync(http),
        ApiEndpoint.Version => WriteJsonAsync(http, SystemReports.Version(daemon), ApiJson.Context.SystemVersion),
        ApiEndpoint.Info => InfoAsync(http),
        ApiEndpoint.ImageCreate => ImageCreateAsync(http),
        ApiEndpoint.ImageList => ImageListAsync(http),
        ApiEndpoint.ImageInspect => ImageInspectAsync(http, route.Name!),
        ApiEndpoint.ImageHistory => ImageHistoryAsync(http, route.Name!),
        ApiEndpoint.ImagePush => ImagePushAsync(http, route.Name!),
        ApiEndpoint.ImageTag => ImageTagAsync(http, route.Name!),
        ApiEndpoint.ImageDelete => ImageDeleteAsync(http, route.Name!),
        ApiEndpoint.ImageLoad => ImageLoadAsync(http),
        ApiEndpoint.ImageSave => ImageSaveAsync(http, http.Request.Query["names"].Where(n => !string.IsNullOrEmpty(n)).Select(n => n!).ToList()),
        ApiEndpoint.ImageSaveOne => ImageSaveAsync(http, [route.Name!]),
        ApiEndpoint.VolumeList => WriteJsonAsync(http, Containers.Volumes.List(Filters(http.Request.Query)), ApiJson.Context.VolumeListResponse),
        ApiEndpoint.VolumeCreate => VolumeCreateAsync(http),
        ApiEndpoint.VolumeInspect => WriteJsonAsync(http, Containers.Volumes.Inspect(route.Name!), ApiJson.Context.Volume),
        ApiEndpoint.VolumeDelete => NoContent(http, () => Containers.Volumes.Remove(route.Name!, Bool(http.Request.Query["force"]))),
        ApiEndpoint.VolumePrune => WriteJsonAsync(http, Containers.Volumes.Prune(Filters(http.Request.Query)), ApiJson.Context.VolumesPruneReport),
        ApiEndpoint.NetworkList => WriteJsonAsync(http, Containers.Networks.List(Filters(http.Request.Query)), ApiJson.Context.ListNetworkResource),
        ApiEndpoint.NetworkCreate => NetworkCreateAsync(http),
        ApiEndpoint.NetworkInspect => WriteJsonAsync(http, Containers.Networks.Inspect(route.Name!), ApiJson.Context.NetworkResource),
        ApiEndpoint.NetworkDelete => NoContent(http, () => Containers.Networks.Remove(route.Name!)),
        ApiEndpoint.NetworkPrune => WriteJsonAsync(http, Containers.Networks.Prune(Filters(http.Request.Query)), ApiJson.Context.NetworksPruneReport),
        ApiEndpoint.NetworkConnect => NetworkConnectAsync(http, route.Name!),
        ApiEndpoint.NetworkDisconnect => NetworkDisconnectAsync(http, route.Name!),
        >= ApiEndpoint.ContainerCreate => DispatchContainerAsync(http, route),
        _ => throw new UnreachableException($"no handler for {route.Endpoint}"),
    };

    static async Task PingAsync(HttpContext http)
    {
        var response = http.Response;
        response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        response.Headers.Pragma = "no-cache";
        // Builder-Version 1: the legacy builder protocol (no BuildKit); no swarm.
        response.Headers["Builder-Version"] = "1";
        response.Headers["Swarm"] = "inactive";
        response.ContentType = "text/plain; charset=utf-8";
        if (HttpMethods.IsHead(http.Request.Method))
        {
            response.ContentLength = 0;
            return;
        }
        response.ContentLength = 2;
        await response.WriteAsync("OK", http.RequestAborted);
    }

    async Task InfoAsync(HttpContext http)
    {
        int images = await daemon.Images.CountAsync(http.RequestAborted);
        await WriteJsonAsync(http, SystemReports.Info(daemon, images), ApiJson.Context.SystemInfo);
    }

    async Task ImageCreateAsync(HttpContext http)
    {
        var query = http.Request.Query;
        string? fromImage = Text(query["fromImage"]), fromSrc = Text(query["fromSrc"]);
        var progress = new ProgressWriter(http.Response);
        var ct = http.RequestAborted;
        if (fromImage is not null)
        {
            await daemon.Images.PullAsync(fromImage, Text(query["tag"]), Text(query["platform"]), ReadAuth(http), progress, ct);
            return;
        }
        if (fromSrc is null) throw ApiException.BadRequest("fromImage or fromSrc is required");
        if (fromSrc != "-")
            throw ApiException.NotImplemented($"importing from a URL ({fromSrc}) is not implemented: send the tar as the body with fromSrc=-");
        var changes = query["changes"].Where(c => !string.IsNullOrEmpty(c)).Select(c => c!).ToList();
        string id = await daemon.Images.ImportAsync(http.Request.Body, Text(query["repo"]), Text(query["tag"]), changes,
            Text(query["message"]), progress, ct);
        await progress.WriteAsync(JsonMessage.ForStatus(id), ct);
    }

    async Task ImageListAsync(HttpContext http)
    {
        var query = http.Request.Query;
        var images = await daemon.Images.ListAsync(Bool(query["all"]), Filters(query), http.RequestAborted);
        await WriteJsonAsync(http, images as List<ImageSummary> ?? [.. images], ApiJson.Context.ListImageSummary);
    }

    async Task ImageInspectAsync(HttpContext http, string name) =>
        await WriteJsonAsync(http, await daemon.Images.InspectAsync(name, http.RequestAborted), ApiJson.Context.ImageInspect);

    async Task ImageHistoryAsync(HttpContext http, string name)
    {
        var history = await daemon.Images.HistoryAsync(name, http.RequestAborted);
        await WriteJsonAsync(http, history as List<ImageHistoryItem> ?? [.. history], ApiJson.Context.ListImageHistoryItem);
    }

    async Task ImagePushAsync(HttpContext http, string name) =>
        await daemon.Images.PushAsync(name, Text(http.Request.Query["tag"]), ReadAuth(http), new ProgressWriter(http.Response), http.RequestAborted);

    async Task ImageTagAsync(HttpContext http, string name)
    {
        string repo = Text(http.Request.Query["repo"]) ?? throw ApiException.BadRequest("repo is required: the repository to tag into");
        await daemon.Images.TagAsync(name, repo, Text(http.Request.Query["tag"]), http.RequestAborted);
        http.Response.StatusCode = StatusCodes.Status201Created;
        http.Response.ContentLength = 0;
    }

    async Task ImageDeleteAsync(HttpContext http, string name)
    {
        var query = http.Request.Query;
        var items = await daemon.Images.RemoveAsync(name, Bool(query["force"]), Bool(query["noprune"]), http.RequestAborted);
        await WriteJsonAsync(http, items as List<ImageDeleteResponseItem> ?? [.. items], ApiJson.Context.ListImageDeleteResponseItem);
    }

    async Task ImageLoadAsync(HttpContext http) =>
        await daemon.Images.LoadAsync(http.Request.Body, Bool(http.Request.Query["quiet"]), new ProgressWriter(http.Response), http.RequestAborted);

    async Task ImageSaveAsync(HttpContext http, List<string> names)
    {
        if (names.Count == 0) throw ApiException.BadRequest("names is required: the images to save");
        http.Response.ContentType = "application/x-tar";
        await daemon.Images.SaveAsync(names, http.Response.Body, http.RequestAborted);
    }

    /// <summary>The filters parameter; 400 when it is not a JSON map of sets.</summary>
    internal static ApiFilters Filters(IQueryCollection query)
    {
        try
        {
            return ApiFilters.Parse(Text(query["filters"]));
        }
        catch (FormatException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

    /// <exception cref="ApiException">400 when the header is not base64 JSON.</exception>
    static AuthConfig? ReadAuth(HttpContext http)
    {
        try
        {
            return AuthConfig.FromHeader(http.Request.Headers[AuthConfig.HeaderName]);
        }
        catch (FormatException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

    internal static string? Text(Microsoft.Extensions.Primitives.StringValues values)
    {
        string? value = values.LastOrDefault();
        return string.IsNullOrEmpty(value) ? null : value;
    }

    /// <summary>dockerd's reading of boolean parameters: anything but empty, 0, no, false, none is true.</summary>
    internal static bool Bool(Microsoft.Extensions.Primitives.StringValues values)
    {
        string value = (values.LastOrDefault() ?? "").Trim().ToLowerInvariant();
        return value is not ("" or "0" or "no" or "false" or "none");
    }

    internal static async Task WriteJsonAsync<T>(HttpContext http, T value, JsonTypeInfo<T> type)
    {
        http.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(http.Response.Body, value, type, http.RequestAborted);
        await http.Response.Body.WriteAsync("\n"u8.ToArray(), http.RequestAborted);
    }
}
