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
}

/// <summary>A matched route: the endpoint and, for per-image routes, the image name as the client wrote it.</summary>
public readonly record struct ApiRoute(ApiEndpoint Endpoint, string? Name = null);

/// <summary>
/// Maps (method, path) to an endpoint by hand instead of with ASP.NET route templates: image names carry
/// slashes and colons (<c>/images/localhost:5000/a/b:tag/json</c>), and a template catch-all can only be last.
/// The per-image suffix is matched from the end, so the name is everything between <c>/images/</c> and it.
/// </summary>
public static class ApiRouter
{
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
        bool get = method is "GET", post = method is "POST";
        switch (path)
        {
            case "/_ping": return get || method is "HEAD" ? new ApiRoute(ApiEndpoint.Ping) : null;
            case "/version": return get ? new ApiRoute(ApiEndpoint.Version) : null;
            case "/info": return get ? new ApiRoute(ApiEndpoint.Info) : null;
            case "/images/create": return post ? new ApiRoute(ApiEndpoint.ImageCreate) : null;
            case "/images/json": return get ? new ApiRoute(ApiEndpoint.ImageList) : null;
            case "/images/load": return post ? new ApiRoute(ApiEndpoint.ImageLoad) : null;
            case "/images/get": return get ? new ApiRoute(ApiEndpoint.ImageSave) : null;
        }
        const string prefix = "/images/";
        if (!path.StartsWith(prefix, StringComparison.Ordinal) || path.Length == prefix.Length) return null;
        string rest = path[prefix.Length..];
        if (method is "DELETE") return Named(ApiEndpoint.ImageDelete, rest);
        (string Suffix, string Method, ApiEndpoint Endpoint)[] suffixed =
        [
            ("/json", "GET", ApiEndpoint.ImageInspect),
            ("/history", "GET", ApiEndpoint.ImageHistory),
            ("/get", "GET", ApiEndpoint.ImageSaveOne),
            ("/push", "POST", ApiEndpoint.ImagePush),
            ("/tag", "POST", ApiEndpoint.ImageTag),
        ];
        foreach (var (suffix, m, endpoint) in suffixed)
            if (method == m && rest.EndsWith(suffix, StringComparison.Ordinal))
                return Named(endpoint, rest[..^suffix.Length]);
        return null;
    }

    static ApiRoute? Named(ApiEndpoint endpoint, string name) =>
        name.Length == 0 || name.StartsWith('/') || name.EndsWith('/') ? null : new ApiRoute(endpoint, name);
}
