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
/// Docker.DotNet 3 hijacks an exec start or attach without asking for an upgrade (no Upgrade header, its header lines
/// ended by a bare LF), and dockerd answers it <c>200 OK</c> before the raw stream: such a request is handed to Kestrel
/// as an upgrade, and Kestrel's <c>101 Switching Protocols</c> head is turned back into dockerd's <c>200 OK</c>
/// (<see cref="PlainHijackMarker"/>, <see cref="OkHead"/>).
/// </summary>
public static partial class ExecStartBody
{
    /// <summary>The request header that carries a hoisted exec start body, base64.</summary>
    public const string HeaderName = "X-Berth-Exec-Start-Body";

    /// <summary>Added to a hijack request that did not ask for an upgrade: its 101 answer goes out as 200 OK.</summary>
    public const string PlainHijackMarker = "X-Berth-Plain-Hijack";

    /// <summary>Kestrel's own default bound on a request head (its MaxRequestHeadersTotalSize, 32 KiB).</summary>
    const int MaxHead = 32 * 1024;

    /// <summary>An exec start body is a few flags: a bigger one goes to Kestrel as it came (and gets its 400).</summary>
    const int MaxBody = 64 * 1024;

    /// <summary>How long the first request's head and body may take to arrive before the connection goes to Kestrel as it is.</summary>
    static readonly TimeSpan ReadBound = TimeSpan.FromSeconds(30);

    [GeneratedRegex(@"^POST (/v[0-9.]+)?/exec/[^/?]+/start(\?\S*)? HTTP/1\.1$", RegexOptions.CultureInvariant)]
    private static partial Regex ExecStartLine();

    [GeneratedRegex(@"^POST (/v[0-9.]+)?/containers/[^/?]+/attach(\?\S*)? HTTP/1\.1$", RegexOptions.CultureInvariant)]
    private static partial Regex AttachLine();

    static bool IsHijackLine(string line) => ExecStartLine().IsMatch(line) || AttachLine().IsMatch(line);

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
        if (FirstLine(buffer) is { } line && !IsHijackLine(line))
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
                        string body = bodyLength > 0 ? $"\r\n{HeaderName}: {Convert.ToBase64String(buffer.Slice(headLength, bodyLength).ToArray())}" : "";
                        prefix = [.. head, .. Encoding.ASCII.GetBytes(body + "\r\n\r\n"), .. buffer.Slice(headLength + bodyLength).ToArray()];
                        input.AdvanceTo(buffer.End);
                        var transport = Prefixed(prefix, connection.Transport);
                        connection.Transport = Encoding.Latin1.GetString(head).Contains("\r\n" + PlainHijackMarker + ":", StringComparison.Ordinal)
                            ? new Duplex(transport.Input, PipeWriter.Create(new OkHead(transport.Output.AsStream()), new StreamPipeWriterOptions(leaveOpen: false)))
                            : transport;
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
    /// What Kestrel is to get instead of <paramref name="head"/> (the request head with its blank line), without the
    /// blank line and the body's header, and the length of the body to move into that header; null for a head left as
    /// it is. Rewritten: an exec start upgrade with a Content-Length body (which loses that header), and an exec start
    /// or attach that asks for no upgrade (Docker.DotNet 3's hijack: it becomes an upgrade marked
    /// <see cref="PlainHijackMarker"/>, its lines ended by CRLF). Left: any other route, a chunked or too big body, an
    /// upgrade without a body (Kestrel takes it as it is).
    /// </summary>
    public static (byte[] Head, int BodyLength)? Rewrite(byte[] head)
    {
        // HTTP/1.1 lets a recipient take a bare LF as a line's end (RFC 9112 2.2), as dockerd does.
        var lines = Encoding.Latin1.GetString(head).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0 || !IsHijackLine(lines[0])) return null;
        long? length = null;
        bool upgrade = false;
        var kept = new List<string> { lines[0] };
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) return null;
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderName, StringComparison.OrdinalIgnoreCase)
                || name.Equals(PlainHijackMarker, StringComparison.OrdinalIgnoreCase)) return null;
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (length is not null || !long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)) return null;
                length = n;
                continue;
            }
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Split(',').Any(token => token.Trim().Equals("Upgrade", StringComparison.OrdinalIgnoreCase))) upgrade = true;
                else continue; // Connection: close of a plain hijack: the connection is the stream's.
            }
            kept.Add(line);
        }
        if (length is not (null or (>= 0 and <= MaxBody))) return null;
        int bodyLength = (int)(length ?? 0);
        if (upgrade)
        {
            if (bodyLength == 0 || !ExecStartLine().IsMatch(lines[0])) return null;
        }
        else
        {
            kept.AddRange(["Connection: Upgrade", "Upgrade: tcp", PlainHijackMarker + ": 1"]);
        }
        return (Encoding.Latin1.GetBytes(string.Join("\r\n", kept)), bodyLength);
    }

    /// <summary>The request line, or null when the buffer does not hold all of it yet.</summary>
    static string? FirstLine(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8) ? Encoding.Latin1.GetString(line) : null;
    }

    /// <summary>The length of the head with its blank line (a line's end is CRLF or a bare LF), or 0 when it is not all there.</summary>
    static int HeadLength(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer.Length > MaxHead ? buffer.Slice(0, MaxHead) : buffer);
        while (reader.TryAdvanceTo((byte)'\n'))
        {
            if (reader.IsNext((byte)'\n', advancePast: true) || reader.IsNext("\r\n"u8, advancePast: true)) return (int)reader.Consumed;
        }
        return 0;
    }

    /// <summary>
    /// The output of a plain hijack: the response head Kestrel writes, <c>101 Switching Protocols</c> with Connection and
    /// Upgrade, goes out as dockerd's <c>200 OK</c> without them; any other head (an error before the hijack) and all
    /// that follows pass unchanged.
    /// </summary>
    sealed class OkHead(Stream output) : Berth.Api.WriteOnlyForwardStream
    {
        MemoryStream? _head = new();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_head is null)
            {
                output.Write(buffer);
                return;
            }
            _head.Write(buffer);
            byte[] held = _head.ToArray();
            int end = held.AsSpan().IndexOf("\r\n\r\n"u8);
            if (end < 0) return;
            _head = null;
            output.Write(Rewritten(Encoding.Latin1.GetString(held, 0, end)));
            output.Write(held.AsSpan(end + 4));
        }

        static byte[] Rewritten(string head)
        {
            var lines = head.Split("\r\n").ToList();
            if (lines[0].StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal))
            {
                lines[0] = "HTTP/1.1 200 OK";
                lines.RemoveAll(l => l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) || l.StartsWith("Upgrade:", StringComparison.OrdinalIgnoreCase));
            }
            return Encoding.Latin1.GetBytes(string.Join("\r\n", lines) + "\r\n\r\n");
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_head is null) return output.WriteAsync(buffer, cancellationToken);
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => output.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing) output.Dispose();
            base.Dispose(disposing);
        }
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
