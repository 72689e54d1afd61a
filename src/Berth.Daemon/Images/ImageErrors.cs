using System.Net;
using Berth.Daemon.Api;
using Berth.Images;
using Berth.Images.Registry;
using Berth.Snapshots;

namespace Berth.Daemon.Images;

/// <summary>The image library's exceptions as dockerd's status codes; the library's messages already use dockerd's words.</summary>
public static class ImageErrors
{
    /// <summary>The API error for <paramref name="e"/>, or null when it is not one the library throws on purpose (a 500).</summary>
    public static ApiException? ToApi(Exception e) => e switch
    {
        ApiException api => api,
        ImageNotFoundException => ApiException.NotFound(e.Message),
        ImageConflictException => ApiException.Conflict(e.Message),
        AmbiguousImageException or ReferenceException => ApiException.BadRequest(e.Message),
        PlatformNotFoundException => ApiException.NotFound(e.Message),
        RegistryNotFoundException => ApiException.NotFound(e.Message),
        RegistryUnauthorizedException u => new ApiException(u.StatusCode == HttpStatusCode.Forbidden ? 403 : 401, e.Message, e),
        RegistryException => new ApiException(500, e.Message, e),
        // A tar or layer the client sent that is not an image: its fault, and nothing was stored.
        ImageFormatException or InvalidLayerException or DigestMismatchException or BlobSizeException => ApiException.BadRequest(e.Message),
        _ => null,
    };

    /// <summary>Runs <paramref name="action"/>, rethrowing the library's exceptions as API errors.</summary>
    public static async Task<T> Map<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is not OperationCanceledException && ToApi(e) is { } api && api != e)
        {
            throw api;
        }
    }

    public static T Map<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is not OperationCanceledException && ToApi(e) is { } api && api != e)
        {
            throw api;
        }
    }
}
