using System.Text;
using System.Text.Json;

namespace Berth.Runtime.Cli;

/// <summary>
/// runc's logging contract: errors always go to stderr as plain text; with --log they are also appended to that
/// file, as logrus text lines or, with --log-format json, as {"level","msg","time"} lines that containerd reads
/// and shows to users. --debug adds debug lines.
/// </summary>
public sealed class RuntimeLog
{
    public string? File { get; init; }
    public bool Json { get; init; }
    public bool Debug { get; init; }

    public void Error(string message)
    {
        Console.Error.WriteLine(message);
        Append("error", message);
    }

    /// <summary>
    /// Warnings go to --log, and to stderr only with --debug: runc's default spec asks for ambient capabilities
    /// the kernel cannot grant, and runc stays quiet about it, so a plain run must stay quiet too.
    /// </summary>
    public void Warn(string message)
    {
        if (File is null && Debug) Console.Error.WriteLine($"warning: {message}");
        Append("warning", message);
    }

    public void DebugLine(string message)
    {
        if (!Debug) return;
        if (File is null) Console.Error.WriteLine($"debug: {message}");
        Append("debug", message);
    }

    void Append(string level, string message)
    {
        if (File is null) return;
        string time = DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz");
        string line = Json ? JsonLine(level, message, time) : $"time=\"{time}\" level={level} msg={Quote(message)}\n";
        try
        {
            System.IO.File.AppendAllText(File, line);
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

    /// <summary>A quoted message as logrus' text format writes it: "container's", not "container\u0027s".</summary>
    static string Quote(string s)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            w.WriteStringValue(s);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
