using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Berth.Api;

/// <summary>Newline-delimited JSON messages (the body of pull, push, load and import answers).</summary>
public static class JsonMessageStream
{
    /// <summary>Reads one message per non-empty line until the end of the stream.</summary>
    /// <exception cref="FormatException">A line that is not a JSON message; quotes the line.</exception>
    public static async IAsyncEnumerable<JsonMessage> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken ct = default)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0 || line.All(char.IsWhiteSpace)) continue;
            JsonMessage? message;
            try
            {
                message = JsonSerializer.Deserialize(line, ApiJson.Context.JsonMessage);
            }
            catch (JsonException e)
            {
                throw new FormatException($"bad progress line from the daemon ({e.Message}): {(line.Length > 200 ? line[..200] + "..." : line)}");
            }
            if (message is not null) yield return message;
        }
    }

    /// <summary>One line: compact JSON and '\n'.</summary>
    public static byte[] Serialize(JsonMessage message)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(message, ApiJson.Context.JsonMessage);
        byte[] line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }
}
