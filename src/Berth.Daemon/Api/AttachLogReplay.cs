using Berth.Api;
using Berth.Engine.Logs;

namespace Berth.Daemon.Api;

/// <summary>
/// attach?logs=1: what the container wrote before the attach, from its json-file log, in the attach stream's framing
/// (multiplexed without a tty, raw with one), ahead of the live output.
/// </summary>
public static class AttachLogReplay
{
    /// <summary>Now, in the log's unix nanoseconds: entries stamped up to here were written before the attach took effect.</summary>
    public static long Now() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    /// <param name="untilNanos">The last entry's time to replay (null: all); later ones reach the client live.</param>
    public static async Task WriteAsync(Stream client, string logPath, long? untilNanos, bool stdout, bool stderr, bool raw, CancellationToken ct)
    {
        if (!File.Exists(logPath)) return;
        foreach (var entry in JsonFileLogReader.Read(logPath, new LogReadOptions { UntilNanos = untilNanos }))
        {
            if (!(entry.Stream == LogStream.Stdout ? stdout : stderr)) continue;
            await MultiplexedStream.WriteAsync(client, entry.Stream == LogStream.Stdout ? StdStream.Stdout : StdStream.Stderr, entry.Line, raw, ct);
        }
        await client.FlushAsync(ct);
    }
}
