using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Berth.Runtime.Cli;

/// <summary>
/// runc's logging contract: errors always go to stderr as plain text; with --log they are also appended to that
/// file, as logrus text lines (time="..." level=error msg="...") or, with --log-format json, as
/// {"level","msg","time"} lines that containerd reads and shows to users. --debug adds warnings and the runtime's
/// steps (<see cref="DebugLog"/>) as such lines: in --log when given, else on stderr, as runc's.
/// </summary>
public sealed class RuntimeLog
{
    public string? File { get; init; }
    public bool Json { get; init; }
    public bool Debug { get; init; }

    public void Error(string message)
    {
        // One line, whatever the message quotes (a newline in a value of config.json).
        Console.Error.WriteLine(message.Any(char.IsControl) ? Escape(message, quotes: false) : message);
        if (File is not null) Append(Line("error", message));
    }

    /// <summary>
    /// Warnings go to --log, and to stderr only with --debug: runc's default spec asks for ambient capabilities
    /// the kernel cannot grant, and runc stays quiet about it, so a plain run must stay quiet too.
    /// </summary>
    public void Warn(string message)
    {
        if (File is not null || Debug) Emit("warning", message);
    }

    public void DebugLine(string message)
    {
        if (Debug) Emit("debug", message);
    }

    void Emit(string level, string message)
    {
        string line = Line(level, message);
        if (File is null) Console.Error.Write(line);
        else Append(line);
    }

    string Line(string level, string message)
    {
        string time = Rfc3339(DateTimeOffset.Now);
        return Json ? JsonLine(level, message, time) : $"time=\"{time}\" level={level} msg={Quote(message)}\n";
    }

    /// <summary>logrus's timestamps: seconds, and "Z" for UTC (Go's RFC3339); phases carry their own durations.</summary>
    static string Rfc3339(DateTimeOffset now) => now.Offset == TimeSpan.Zero
        ? now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        : now.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    void Append(string line)
    {
        try
        {
            System.IO.File.AppendAllText(File!, line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"berth-runtime: writing the log {File}: {e.Message}");
        }
    }

    static string JsonLine(string level, string message, string time)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: log lines are read by people and by containerd, not embedded in HTML.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("level", level);
            w.WriteString("msg", message);
            w.WriteString("time", time);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>A double-quoted value as logrus writes one (Go's strconv.Quote for the characters that need it).</summary>
    static string Quote(string s) => $"\"{Escape(s, quotes: true)}\"";

    /// <summary>Control characters as Go escapes them; with <paramref name="quotes"/>, '"' and '\\' too.</summary>
    static string Escape(string s, bool quotes)
    {
        var escaped = new StringBuilder(s.Length + 2);
        foreach (char c in s)
        {
            _ = c switch
            {
                '"' when quotes => escaped.Append("\\\""),
                '\\' when quotes => escaped.Append("\\\\"),
                '\n' => escaped.Append("\\n"),
                '\r' => escaped.Append("\\r"),
                '\t' => escaped.Append("\\t"),
                < ' ' or '\x7f' => escaped.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => escaped.Append(c),
            };
        }
        return escaped.ToString();
    }
}
