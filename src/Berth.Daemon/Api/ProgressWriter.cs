using Berth.Api;
using Microsoft.AspNetCore.Http;

namespace Berth.Daemon.Api;

/// <summary>Where a long image operation reports its progress, one message at a time.</summary>
public interface IProgressSink
{
    ValueTask WriteAsync(JsonMessage message, CancellationToken ct = default);
}

/// <summary>
/// NDJSON on an HTTP response, flushed per line (the CLI draws bars as they come). The 200 and its headers
/// go out with the first message, not before: an operation that fails before reporting anything can still
/// answer with a plain error status, as dockerd does for a pull of an unknown manifest.
/// </summary>
public sealed class ProgressWriter(HttpResponse response) : IProgressSink
{
    public bool Started => response.HasStarted;

    public async ValueTask WriteAsync(JsonMessage message, CancellationToken ct = default)
    {
        if (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
        }
        await response.Body.WriteAsync(JsonMessageStream.Serialize(message), ct);
        await response.Body.FlushAsync(ct);
    }

    /// <summary>A failure after the stream started: an error line, the way the docker CLI expects it.</summary>
    public ValueTask WriteErrorAsync(string message, CancellationToken ct = default) => WriteAsync(JsonMessage.ForError(message), ct);
}
