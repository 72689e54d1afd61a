using System.Net;
using System.Net.Http.Headers;

namespace Berth.Api;

// The archive routes (docker cp), as the docker CLI calls them.
public sealed partial class BerthClient
{
    /// <summary>HEAD /containers/{id}/archive: the stat of a path; null when the daemon found no such path (404).</summary>
    public async Task<ContainerPathStat?> StatContainerPathAsync(string id, string path, CancellationToken ct = default)
    {
        var version = await NegotiateAsync(ct);
        var request = new HttpRequestMessage(HttpMethod.Head, $"/v{version}/containers/{id}/archive" + PathQuery(path));
        using var response = await SendAsync(request, ct);
        if (response.StatusCode == HttpStatusCode.NotFound && response.Headers.Contains(ContainerPathStat.HeaderName) is false)
        {
            // A HEAD answer has no body: tell an unknown container from a missing path by asking for the container.
            await InspectContainerAsync(id, ct);
            return null;
        }
        await ThrowIfErrorAsync(response, $"/containers/{id}/archive", ct);
        return ContainerPathStat.FromHeader(response.Headers.GetValues(ContainerPathStat.HeaderName).First());
    }

    /// <summary>GET /containers/{id}/archive: the tar, streamed (dispose it to end the request), and the stat of the path.</summary>
    public async Task<(Stream Tar, ContainerPathStat Stat)> GetArchiveAsync(string id, string path, CancellationToken ct = default)
    {
        var response = await SendVersionedAsync(HttpMethod.Get, $"/containers/{id}/archive" + PathQuery(path), null, ct, streaming: true);
        try
        {
            var stat = ContainerPathStat.FromHeader(response.Headers.GetValues(ContainerPathStat.HeaderName).First());
            return (new ResponseStream(response, await response.Content.ReadAsStreamAsync(ct)), stat);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>PUT /containers/{id}/archive: <paramref name="tar"/> extracted into the directory <paramref name="path"/>.</summary>
    public async Task PutArchiveAsync(string id, string path, Stream tar, bool copyUidGid, CancellationToken ct = default)
    {
        var content = new StreamContent(tar);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        string query = PathQuery(path) + "&noOverwriteDirNonDir=true" + (copyUidGid ? "&copyUIDGID=true" : "");
        using var response = await SendVersionedAsync(HttpMethod.Put, $"/containers/{id}/archive" + query, content, ct);
    }

    static string PathQuery(string path) => "?path=" + Uri.EscapeDataString(path);
}
