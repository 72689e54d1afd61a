using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Berth.Daemon.Containers;

/// <summary>
/// GET /containers/{id}/logs without follow (the logs change brings the full reader: since, until, follow,
/// rotation): the json-file log's lines of the asked streams, the last <c>tail</c> of them, each as a Docker
/// multiplexed frame (no tty) or raw (tty), optionally prefixed with its RFC3339Nano time.
/// </summary>
public static class ContainerLogs
{
    public static async Task WriteAsync(string logPath, bool stdout, bool stderr, int? tail, bool timestamps, bool tty, Stream output, CancellationToken ct)
    {
        var lines = new List<JsonLogLine>();
        if (File.Exists(logPath))
        {
            using var reader = new StreamReader(new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            while (await reader.ReadLineAsync(ct) is { } text)
            {
                if (text.Length == 0) continue;
                var line = Parse(Encoding.UTF8.GetBytes(text));
                if (line is null || !(line.Stream == "stdout" ? stdout : line.Stream == "stderr" && stderr)) continue;
                lines.Add(line);
            }
        }
        if (tail is { } n && n >= 0 && lines.Count > n) lines = lines[^n..];
        foreach (var line in lines) await WriteFrameAsync(output, line, timestamps, tty, ct);
    }

    /// <summary>
    /// STOPGAP attach (the monitor's attach stream replaces it): follows the json-file log from
    /// <paramref name="log"/>'s current position, sending each new line as a frame, until <paramref name="exited"/>
    /// completes and what is left is sent.
    /// </summary>
    public static async Task FollowAsync(FileStream log, bool stdout, bool stderr, bool tty, Task exited, Stream output, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        while (true)
        {
            bool done = exited.IsCompleted;
            int n;
            while ((n = await log.ReadAsync(buffer, ct)) > 0)
            {
                int start = 0;
                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] != (byte)'\n') continue;
                    pending.Write(buffer, start, i - start);
                    start = i + 1;
                    var line = Parse(pending.ToArray());
                    pending.SetLength(0);
                    if (line is null || !(line.Stream == "stdout" ? stdout : line.Stream == "stderr" && stderr)) continue;
                    await WriteFrameAsync(output, line, timestamps: false, tty, ct);
                }
                // A line written in part: its end comes with the next read.
                pending.Write(buffer, start, n - start);
                await output.FlushAsync(ct);
            }
            if (done) return;
            await Task.WhenAny(exited, Task.Delay(50, ct));
        }
    }

    static JsonLogLine? Parse(byte[] line)
    {
        try
        {
            return line.Length == 0 ? null : JsonSerializer.Deserialize(line, ContainerJson.Context.JsonLogLine);
        }
        catch (JsonException)
        {
            return null; // a line cut by a crash
        }
    }

    static async Task WriteFrameAsync(Stream output, JsonLogLine line, bool timestamps, bool tty, CancellationToken ct)
    {
        byte[] payload = Encoding.UTF8.GetBytes(timestamps ? TimestampOf(line.Time) + " " + line.Log : line.Log);
        if (!tty)
        {
            var header = new byte[8];
            header[0] = line.Stream == "stderr" ? (byte)2 : (byte)1;
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)payload.Length);
            await output.WriteAsync(header, ct);
        }
        await output.WriteAsync(payload, ct);
    }

    /// <summary>The time as docker logs -t shows it: RFC3339Nano with nine digits.</summary>
    static string TimestampOf(string time)
    {
        var t = ContainerJson.ParseTime(time).UtcDateTime;
        return t.ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + "." +
               (t.Ticks % TimeSpan.TicksPerSecond * 100).ToString("D9", System.Globalization.CultureInfo.InvariantCulture) + "Z";
    }
}
