using System.Threading.Channels;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Images;

namespace Berth.Daemon.Images;

/// <summary>
/// Carries the library's progress events (raised from one thread per layer) to the response one at a time,
/// in the order raised, shaped as dockerd's JSON messages. Complete it before answering anything else.
/// </summary>
public sealed class ProgressRelay
{
    readonly Channel<JsonMessage> _channel = Channel.CreateUnbounded<JsonMessage>(new UnboundedChannelOptions { SingleReader = true });
    readonly Task _pump;

    public ProgressRelay(IProgressSink sink, CancellationToken ct)
    {
        _pump = Task.Run(async () =>
        {
            await foreach (var message in _channel.Reader.ReadAllAsync(ct))
                await sink.WriteAsync(message, ct);
        }, ct);
    }

    public void Report(ProgressEvent e) => _channel.Writer.TryWrite(ToMessage(e));

    public void Report(JsonMessage message) => _channel.Writer.TryWrite(message);

    /// <summary>Waits until every reported message is written.</summary>
    public Task CompleteAsync()
    {
        _channel.Writer.TryComplete();
        return _pump;
    }

    /// <summary>dockerd's shape: a progress line carries progressDetail and the text bar; a layer's other lines an empty progressDetail.</summary>
    public static JsonMessage ToMessage(ProgressEvent e)
    {
        if (e.Id is not null && e.Current is { } current)
            return JsonMessage.ForProgress(e.Id, e.Status, current, e.Total ?? 0);
        var message = JsonMessage.ForStatus(e.Status, e.Id);
        if (e.Id is not null && IsLayerStatus(e.Status)) message.ProgressDetail = new ProgressDetail();
        return message;
    }

    // "Pulling from x" has the tag as its id but no progressDetail; per-layer lines carry an empty one.
    static bool IsLayerStatus(string status) => !status.StartsWith("Pulling from ", StringComparison.Ordinal);
}
