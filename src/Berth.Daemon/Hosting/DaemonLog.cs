using System.Globalization;
using System.Text;

namespace Berth.Daemon.Hosting;

public enum LogLevel { Debug, Info, Warn, Error }

/// <summary>
/// Structured lines on stderr, logfmt as dockerd's: <c>time="..." level=info msg="..." key=value</c>.
/// One writer, one line per call, so lines from concurrent requests never interleave.
/// </summary>
public sealed class DaemonLog(LogLevel minimum, TextWriter? output = null)
{
    readonly TextWriter _out = output ?? Console.Error;
    readonly Lock _lock = new();

    public LogLevel Minimum { get; } = minimum;

    public bool IsEnabled(LogLevel level) => level >= Minimum;

    public void Debug(string msg, params (string Key, object? Value)[] fields) => Write(LogLevel.Debug, msg, fields);
    public void Info(string msg, params (string Key, object? Value)[] fields) => Write(LogLevel.Info, msg, fields);
    public void Warn(string msg, params (string Key, object? Value)[] fields) => Write(LogLevel.Warn, msg, fields);
    public void Error(string msg, params (string Key, object? Value)[] fields) => Write(LogLevel.Error, msg, fields);

    public void Write(LogLevel level, string msg, (string Key, object? Value)[] fields)
    {
        if (!IsEnabled(level)) return;
        var line = new StringBuilder(128);
        line.Append("time=\"").Append(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture))
            .Append("\" level=").Append(Name(level)).Append(" msg=").Append(Quote(msg));
        foreach (var (key, value) in fields)
            line.Append(' ').Append(key).Append('=').Append(Quote(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
        lock (_lock)
        {
            _out.WriteLine(line.ToString());
            _out.Flush();
        }
    }

    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Info => "info",
        LogLevel.Warn => "warning",
        _ => "error",
    };

    /// <exception cref="FormatException">Not one of debug, info, warn, error; names the value.</exception>
    public static LogLevel ParseLevel(string text) => text.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Info,
        "warn" or "warning" => LogLevel.Warn,
        "error" => LogLevel.Error,
        _ => throw new FormatException($"invalid log level {text}: expected debug, info, warn or error"),
    };

    /// <summary>Bare when safe, else double-quoted with \" \\ \n escaped, so one entry stays one line.</summary>
    static string Quote(string value)
    {
        bool plain = value.Length > 0;
        foreach (char c in value)
            if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c > '~') { plain = false; break; }
        if (plain) return value;
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }
}
