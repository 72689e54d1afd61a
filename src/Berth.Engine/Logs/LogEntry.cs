namespace Berth.Engine.Logs;

public enum LogStream { Stdout, Stderr }

/// <summary>
/// One json-file record: the stream, the time the writer stamped (nanoseconds since the epoch, as dockerd keeps them:
/// a <see cref="DateTimeOffset"/> holds only 100 ns), and the bytes as the container wrote them (with their '\n'; a
/// line the writer split at 16 KiB arrives as several entries, all but the last without '\n', as dockerd returns them).
/// </summary>
public sealed record LogEntry(LogStream Stream, long UnixNanos, ReadOnlyMemory<byte> Line)
{
    /// <summary>The time, truncated to the 100 ns a <see cref="DateTimeOffset"/> holds.</summary>
    public DateTimeOffset Time => DateTimeOffset.UnixEpoch.AddTicks(UnixNanos / 100);
}

/// <summary>What to read: dockerd's <c>tail</c>, <c>since</c>, <c>until</c> and <c>follow</c>.</summary>
public sealed record LogReadOptions
{
    /// <summary>The last N entries (counted before since/until apply, as dockerd counts); negative for all, 0 for none.</summary>
    public int Tail { get; init; } = -1;

    /// <summary>Entries stamped at or after this (unix nanoseconds); null for no bound.</summary>
    public long? SinceNanos { get; init; }

    /// <summary>Entries stamped at or before this (unix nanoseconds); the read ends at the first one after it.</summary>
    public long? UntilNanos { get; init; }

    /// <summary>Keep reading what the writer appends until the container stops, the caller cancels, or until passes.</summary>
    public bool Follow { get; init; }

    /// <summary>The <c>tail</c> query value as dockerd reads it: a number, anything else (like "all") or a negative one is all.</summary>
    public static int ParseTail(string? value) =>
        int.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 0 ? n : -1;
}
