using System.Text;
using System.Text.Json;
using Berth.Api;

namespace Berth.Daemon.Containers;

/// <summary>
/// The stopgap attach's reading of the json-file log (GET /containers/{id}/logs reads it through
/// <see cref="Berth.Engine.Logs.JsonFileLogReader"/>): each new line as a Docker multiplexed frame (no tty) or raw (tty).
/// </summary>
public static class ContainerLogs
{
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
                    await WriteFrameAsync(output, line, tty, ct);
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

    static async Task WriteFrameAsync(Stream output, JsonLogLine line, bool tty, CancellationToken ct) =>
        await MultiplexedStream.WriteAsync(output, line.Stream == "stderr" ? StdStream.Stderr : StdStream.Stdout, Encoding.UTF8.GetBytes(line.Log), raw: tty, ct);
}
