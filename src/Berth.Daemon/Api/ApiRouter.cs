namespace Berth.Daemon.Api;

/// <summary>The operations berthd serves. Each has one handler in <see cref="ApiHandlers"/>.</summary>
public enum ApiEndpoint
{
    Ping,
    Version,
    Info,
    ImageCreate,
    ImageList,
    ImageLoad,
    ImageSave,
    ImageSaveOne,
    ImageInspect,
    ImageHistory,
    ImagePush,
    ImageTag,
    ImageDelete,
    ContainerCreate,
    ContainerList,
    ContainerPrune,
    ContainerInspect,
    ContainerStart,
    ContainerStop,
    ContainerKill,
    ContainerRestart,
    ContainerWait,
    ContainerRename,
    ContainerLogs,
    ContainerDelete,
    ContainerAttach,
    ContainerResize,
    ContainerPause,
    ContainerUnpause,
    ContainerUpdate,
    ExecCreate,
    ExecStart,
    ExecInspect,
    ExecResize,
    ContainerStats,
    ContainerTop,
    ContainerArchiveStat,
    ContainerArchiveGet,
    ContainerArchivePut,
    Events,
    VolumeList,
    VolumeCreate,
    VolumeInspect,
    VolumeDelete,
    VolumePrune,
    NetworkList,
    NetworkCreate,
    NetworkPrune,
    NetworkInspect,
    NetworkDelete,
    NetworkConnect,
    NetworkDisconnect,
}

/// <summary>A matched route: the endpoint and the path's parameter (an image name as the client wrote it, a container id or name).</summary>
public readonly record struct ApiRoute(ApiEndpoint Endpoint, string? Name = null);

/// <summary>
/// One line of the route table: a method, a path template with at most one parameter, and the endpoint.
/// <c>{id}</c> is one path segment; <c>{name*}</c> may span segments (image names carry slashes and colons:
/// <c>/images/localhost:5000/a/b:tag/json</c>), and is matched as everything between the fixed prefix and suffix.
/// </summary>
public sealed record RouteEntry(string Method, string Template, ApiEndpoint Endpoint)
{
    readonly int _open = Template.IndexOf('{');

    public ApiRoute? Match(string method, string path)
    {
        if (method != Method) return null;
        if (_open < 0) return path == Template ? new ApiRoute(Endpoint) : null;
        int close = Template.IndexOf('}', _open);
        string prefix = Template[.._open], suffix = Template[(close + 1)..];
        bool spans = Template[close - 1] == '*';
        if (path.Length <= prefix.Length + suffix.Length || !path.StartsWith(prefix, StringComparison.Ordinal) || !path.EndsWith(suffix, StringComparison.Ordinal))
            return null;
        string value = path[prefix.Length..^suffix.Length];
        if (spans ? value.StartsWith('/') || value.EndsWith('/') : value.Contains('/')) return null;
        return new ApiRoute(Endpoint, value);
    }
}

/// <summary>
/// Maps (method, path) to an endpoint through <see cref="Routes"/>, scanned in order: the first match wins, so
/// fixed paths come before the templates that could also match them.
/// </summary>
public static class ApiRouter
{
    public static readonly IReadOnlyList<RouteEntry> Routes =
    [
        new("GET", "/_ping", ApiEndpoint.Ping),
        new("HEAD", "/_ping", ApiEndpoint.Ping),
        new("GET", "/version", ApiEndpoint.Version),
        new("GET", "/info", ApiEndpoint.Info),

        new("POST", "/images/create", ApiEndpoint.ImageCreate),
        new("GET", "/images/json", ApiEndpoint.ImageList),
        new("POST", "/images/load", ApiEndpoint.ImageLoad),
        new("GET", "/images/get", ApiEndpoint.ImageSave),
        new("GET", "/images/{name*}/json", ApiEndpoint.ImageInspect),
        new("GET", "/images/{name*}/history", ApiEndpoint.ImageHistory),
        new("GET", "/images/{name*}/get", ApiEndpoint.ImageSaveOne),
        new("POST", "/images/{name*}/push", ApiEndpoint.ImagePush),
        new("POST", "/images/{name*}/tag", ApiEndpoint.ImageTag),
        new("DELETE", "/images/{name*}", ApiEndpoint.ImageDelete),

        new("POST", "/containers/create", ApiEndpoint.ContainerCreate),
        new("GET", "/containers/json", ApiEndpoint.ContainerList),
        new("POST", "/containers/prune", ApiEndpoint.ContainerPrune),
        new("GET", "/volumes", ApiEndpoint.VolumeList),
        new("POST", "/volumes/create", ApiEndpoint.VolumeCreate),
        new("POST", "/volumes/prune", ApiEndpoint.VolumePrune),
        new("GET", "/volumes/{name}", ApiEndpoint.VolumeInspect),
        new("DELETE", "/volumes/{name}", ApiEndpoint.VolumeDelete),
        new("GET", "/networks", ApiEndpoint.NetworkList),
        new("POST", "/networks/create", ApiEndpoint.NetworkCreate),
        new("POST", "/networks/prune", ApiEndpoint.NetworkPrune),
        new("GET", "/networks/{id}", ApiEndpoint.NetworkInspect),
        new("DELETE", "/networks/{id}", ApiEndpoint.NetworkDelete),
        new("POST", "/networks/{id}/connect", ApiEndpoint.NetworkConnect),
        new("POST", "/networks/{id}/disconnect", ApiEndpoint.NetworkDisconnect),
        new("GET", "/containers/{id}/json", ApiEndpoint.ContainerInspect),
        new("POST", "/containers/{id}/start", ApiEndpoint.ContainerStart),
        new("POST", "/containers/{id}/stop", ApiEndpoint.ContainerStop),
        new("POST", "/containers/{id}/kill", ApiEndpoint.ContainerKill),
        new("POST", "/containers/{id}/restart", ApiEndpoint.ContainerRestart),
        new("POST", "/containers/{id}/wait", ApiEndpoint.ContainerWait),
        new("POST", "/containers/{id}/rename", ApiEndpoint.ContainerRename),
        new("GET", "/containers/{id}/logs", ApiEndpoint.ContainerLogs),
        new("POST", "/containers/{id}/attach", ApiEndpoint.ContainerAttach),
        new("POST", "/containers/{id}/resize", ApiEndpoint.ContainerResize),
        new("POST", "/containers/{id}/pause", ApiEndpoint.ContainerPause),
        new("POST", "/containers/{id}/unpause", ApiEndpoint.ContainerUnpause),
        new("POST", "/containers/{id}/update", ApiEndpoint.ContainerUpdate),
        new("POST", "/containers/{id}/exec", ApiEndpoint.ExecCreate),
        new("POST", "/exec/{id}/start", ApiEndpoint.ExecStart),
        new("GET", "/exec/{id}/json", ApiEndpoint.ExecInspect),
        new("POST", "/exec/{id}/resize", ApiEndpoint.ExecResize),
        new("GET", "/containers/{id}/stats", ApiEndpoint.ContainerStats),
        new("GET", "/containers/{id}/top", ApiEndpoint.ContainerTop),
        new("HEAD", "/containers/{id}/archive", ApiEndpoint.ContainerArchiveStat),
        new("GET", "/containers/{id}/archive", ApiEndpoint.ContainerArchiveGet),
        new("PUT", "/containers/{id}/archive", ApiEndpoint.ContainerArchivePut),
        new("DELETE", "/containers/{id}", ApiEndpoint.ContainerDelete),

        new("GET", "/events", ApiEndpoint.Events),
    ];

    /// <summary>
    /// Splits a <c>/v1.41</c> prefix off. Returns the version text (null when unversioned) and the rest.
    /// Like dockerd's <c>/v{version:[0-9.]+}</c>, only digits and dots make a version segment.
    /// </summary>
    public static (string? Version, string Path) SplitVersion(string path)
    {
        if (path.Length > 2 && path[0] == '/' && path[1] == 'v')
        {
            int end = path.IndexOf('/', 2);
            string segment = end < 0 ? path[2..] : path[2..end];
            if (segment.Length > 0 && segment.All(c => c is '.' or (>= '0' and <= '9')))
                return (segment, end < 0 ? "/" : path[end..]);
        }
        return (null, path);
    }

    /// <summary>The route for an unversioned path, or null (dockerd: 404 "page not found").</summary>
    public static ApiRoute? Match(string method, string path)
    {
        foreach (var route in Routes)
            if (route.Match(method, path) is { } match) return match;
        return null;
    }
}
