using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Berth.Runtime;

/// <summary>
/// The runtime's debug seam: one line per step (what it creates, joins, mounts and runs, and how long each phase took),
/// sent wherever the caller routes it: the CLI's --debug to stderr or --log as runc's debug lines, init's to the runtime
/// over its channel. Unrouted, a call costs one test: the message is formatted only when someone listens.
/// </summary>
public static class DebugLog
{
    static Action<string>? s_sink;

    public static bool Enabled => s_sink is not null;

    /// <summary>Where the lines go from now on; null stops them.</summary>
    public static void RouteTo(Action<string>? sink) => s_sink = sink;

    public static void Write(ref Message message)
    {
        if (s_sink is { } sink) sink(message.ToStringAndClear());
    }

    /// <summary>A line that was formatted elsewhere (init's, received over its channel).</summary>
    public static void Forward(string? line)
    {
        if (s_sink is { } sink && !string.IsNullOrEmpty(line)) sink(line);
    }

    /// <summary>Measures a phase until disposed: "phase NAME took 1.234 ms".</summary>
    public static Phase Time(string name) => new(name, Enabled ? Stopwatch.GetTimestamp() : 0);

    public readonly struct Phase(string name, long start) : IDisposable
    {
        public void Dispose()
        {
            if (start != 0 && s_sink is { } sink)
                sink(string.Create(CultureInfo.InvariantCulture, $"phase {name} took {Stopwatch.GetElapsedTime(start).TotalMilliseconds:F3} ms"));
        }
    }

    /// <summary>Formats only when a sink listens (the compiler skips the appends when <c>enabled</c> is false).</summary>
    [InterpolatedStringHandler]
    public ref struct Message
    {
        DefaultInterpolatedStringHandler _text;

        public Message(int literalLength, int formattedCount, out bool enabled)
        {
            enabled = s_sink is not null;
            _text = enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount, CultureInfo.InvariantCulture) : default;
        }

        public void AppendLiteral(string value) => _text.AppendLiteral(value);
        public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);
        public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);
        public string ToStringAndClear() => _text.ToStringAndClear();
    }
}
