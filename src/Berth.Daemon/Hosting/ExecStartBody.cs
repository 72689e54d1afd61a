using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;

namespace Berth.Daemon.Hosting;

/// <summary>
/// Lets Kestrel upgrade the docker CLI's <c>POST /exec/{id}/start</c>: an upgrade request (<c>Connection: Upgrade</c>,
/// <c>Upgrade: tcp</c>) that carries a JSON body, which dockerd hijacks. Kestrel (since ASP.NET Core 5.0.2/6.0,
/// dotnet/aspnetcore#27921; before, it refused it with UpgradeRequestCannotHavePayload) ignores the Upgrade of a
/// request with a Content-Length other than 0 or a Transfer-Encoding: IsUpgradableRequest is false and UpgradeAsync
/// throws, so berthd could only answer 400 and the CLI said "unable to upgrade to tcp, received 400". Before Kestrel
/// reads a connection, its first request is looked at: when it is such an exec start, its head and body are read off
/// the transport here and Kestrel is handed the head without Content-Length and with the body in
/// <see cref="HeaderName"/> (base64), followed by the rest of the connection's bytes. Any other first request reaches Kestrel untouched, without a copy. The docker CLI dials a
/// connection of its own for every hijacked request, so the exec start is always its connection's first request.
/// </summary>
public static partial class ExecStartBody
{
    /// <summary>The request header that carries a hoisted exec start body, base64.</summary>
    public const string HeaderName = "X-Berth-Exec-Start-Body";

    /// <summary>Kestrel's own default bound on a request head (its MaxRequestHeadersTotalSize, 32 KiB).</summary>
    const int MaxHead = 32 * 1024;

    /// <summary>An exec start body is a few flags: a bigger one goes to Kestrel as it came (and gets its 400).</summary>
    const int MaxBody = 64 * 1024;

    /// <summary>How long the first request's head and body may take to arrive before the connection goes to Kestrel as it is.</summary>
    static readonly TimeSpan ReadBound = TimeSpan.FromSeconds(30);

    static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    [GeneratedRegex(@"^POST (/v[0-9.]+)?/exec/[^/?]+/start(\?\S*)? HTTP/1\.1$", RegexOptions.CultureInvariant)]
    private static partial Regex ExecStartLine();

    /// <summary>Connection middleware: rewrites the connection's first request when it is an exec start upgrade with a body.</summary>
    public static async Task HoistAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var bound = new CancellationTokenSource(ReadBound);
        ReadResult result;
        try
        {
            result = await input.ReadAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            return; // Nothing came in time: Kestrel applies its own timeouts.
        }
        var buffer = result.Buffer;
        if (FirstLine(buffer) is { } line && !ExecStartLine().IsMatch(line))
        {
            // The common case: nothing consumed, nothing examined, Kestrel reads the same bytes.
            input.AdvanceTo(buffer.Start, buffer.Start);
            return;
        }
        byte[] prefix;
        try
        {
            while (true)
            {
                int headLength = HeadLength(buffer);
                if (headLength > 0)
                {
                    if (Rewrite(buffer.Slice(0, headLength).ToArray()) is not { } rewrite) break;
                    var (head, bodyLength) = rewrite;
                    if (buffer.Length >= headLength + bodyLength)
                    {
                        prefix = [.. head, .. Encoding.ASCII.GetBytes(Convert.ToBase64String(buffer.Slice(headLength, bodyLength).ToArray()) + "\r\n\r\n"),
                                  .. buffer.Slice(headLength + bodyLength).ToArray()];
                        input.AdvanceTo(buffer.End);
                        connection.Transport = Prefixed(prefix, connection.Transport);
                        return;
                    }
                }
                else if (buffer.Length > MaxHead)
                {
                    break;
                }
                if (result.IsCompleted) break;
                input.AdvanceTo(buffer.Start, buffer.End);
                result = await input.ReadAsync(bound.Token);
                buffer = result.Buffer;
            }
        }
        catch (OperationCanceledException)
        {
            // Too little came in time; the bytes examined so far are still unconsumed in the transport.
            connection.Transport = Prefixed([], connection.Transport);
            return;
        }
        // Not an exec start with a body after all: what was read goes to Kestrel unchanged (examined bytes cannot be
        // handed back to the transport's pipe, so they are read from a copy).
        prefix = buffer.ToArray();
        input.AdvanceTo(buffer.End);
        connection.Transport = Prefixed(prefix, connection.Transport);
    }

    static Duplex Prefixed(byte[] prefix, IDuplexPipe transport) =>
        new(PipeReader.Create(new PrefixedStream(prefix, transport.Input.AsStream()), new StreamPipeReaderOptions(leaveOpen: false)), transport.Output);

    /// <summary>
    /// The head of an exec start upgrade with a Content-Length body, without that header and with the body's header
    /// in its place, and the body's length; null for any other head (no upgrade, no body, chunked, too big).
    /// </summary>
    public static (byte[] Head, int BodyLength)? Rewrite(byte[] head)
    {
        string text = Encoding.Latin1.GetString(head);
        var lines = text[..^4].Split("\r\n");
        if (!ExecStartLine().IsMatch(lines[0])) return null;
        long? length = null;
        bool upgrade = false;
        var kept = new List<string> { lines[0] };
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) return null;
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderName, StringComparison.OrdinalIgnoreCase)) return null;
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (length is not null || !long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)) return null;
                length = n;
                continue;
            }
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) &&
                value.Split(',').Any(token => token.Trim().Equals("Upgrade", StringComparison.OrdinalIgnoreCase)))
                upgrade = true;
            kept.Add(line);
        }
        if (!upgrade || length is not (> 0 and <= MaxBody)) return null;
        // The body (base64) and the head's end follow the header's name.
        return (Encoding.Latin1.GetBytes(string.Join("\r\n", kept) + "\r\n" + HeaderName + ": "), (int)length.Value);
    }

    /// <summary>The request line, or null when the buffer does not hold all of it yet.</summary>
    static string? FirstLine(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8) ? Encoding.Latin1.GetString(line) : null;
    }

    /// <summary>The length of the head with its blank line, or 0 when it is not all there.</summary>
    static int HeadLength(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer.Length > MaxHead ? buffer.Slice(0, MaxHead) : buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, HeadEnd) ? (int)reader.Consumed : 0;
    }

    sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }

    /// <summary>Reads <c>prefix</c>, then the connection.</summary>
    sealed class PrefixedStream(byte[] prefix, Stream rest) : Berth.Snapshots.ReadOnlyForwardStream
    {
        int _offset;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_offset < prefix.Length) return FromPrefix(buffer);
            return rest.Read(buffer);
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _offset < prefix.Length ? ValueTask.FromResult(FromPrefix(buffer.Span)) : rest.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        int FromPrefix(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, prefix.Length - _offset);
            prefix.AsSpan(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) rest.Dispose();
            base.Dispose(disposing);
        }
    }
}
