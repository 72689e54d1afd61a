using Berth.Api;
using Berth.Daemon.Containers.Archive;
using Microsoft.AspNetCore.Http;

namespace Berth.Daemon.Api;

/// <summary><c>HEAD|GET|PUT /containers/{id}/archive?path=</c>: docker cp (<see cref="ContainerArchive"/>).</summary>
public sealed partial class ApiHandlers
{
    ContainerArchive Archive => new(Containers);

    async Task ArchiveStatAsync(HttpContext http, string id)
    {
        var stat = await Archive.StatAsync(id, Text(http.Request.Query["path"]));
        http.Response.Headers[ContainerPathStat.HeaderName] = stat.ToHeader();
        http.Response.StatusCode = StatusCodes.Status200OK;
    }

    Task ArchiveGetAsync(HttpContext http, string id) =>
        Archive.GetAsync(id, Text(http.Request.Query["path"]), stat =>
        {
            http.Response.Headers[ContainerPathStat.HeaderName] = stat.ToHeader();
            http.Response.ContentType = "application/x-tar";
            return http.Response.Body;
        }, http.RequestAborted);

    async Task ArchivePutAsync(HttpContext http, string id)
    {
        var query = http.Request.Query;
        await Archive.PutAsync(id, Text(query["path"]), Bool(query["noOverwriteDirNonDir"]), Bool(query["copyUIDGID"]), http.Request.Body, http.RequestAborted);
        http.Response.StatusCode = StatusCodes.Status200OK;
    }
}
