using System.Buffers.Binary;

namespace Berth.Api;

/// <summary>Which stream a multiplexed frame carries (the first byte of its header).</summary>
public enum StdStream : byte
{
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
    /// <summary>Docker's "systemerr": an error the daemon reports in the middle of a stream.</summary>
    SystemErr = 3,
}

/// <summary>One frame of a multiplexed stream: which stream, and its bytes.</summary>
public readonly record struct MultiplexedFrame(StdStream Stream, ReadOnlyMemory<byte> Payload);

/// <summary>
/// Docker's framing of stdout and stderr on one connection when there is no terminal (attach, exec, logs):
/// each frame is an 8-byte header <c>[stream, 0, 0, 0, length as big-endian uint32]</c> and then the payload.
/// </summary>
public static class MultiplexedStream
{
    public const int HeaderLength = 8;

    /// <summary>A frame longer than this is taken for a corrupt stream, not allocated (dockerd's own frames are ≤ 32 KiB).</summary>
    public const int MaxPayload = 16 * 1024 * 1024;

    public static void WriteHeader(Span<byte> header, StdStream stream, int length)
    {
        header[..4].Clear();
        header[0] = (byte)stream;
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], checked((uint)length));
    }

    /// <summary>One frame of <paramref name="payload"/>; with <paramref name="raw"/> (a terminal) the bytes alone, as Docker sends them then.</summary>
    public static async ValueTask WriteAsync(Stream output, StdStream stream, ReadOnlyMemory<byte> payload, bool raw, CancellationToken ct)
    {
        if (!raw)
        {
            var header = new byte[HeaderLength];
            WriteHeader(header, stream, payload.Length);
            await output.WriteAsync(header, ct);
        }
        await output.WriteAsync(payload, ct);
    }

    /// <summary>Reads the next frame; null at a clean end of stream (between frames).</summary>
    /// <exception cref="InvalidDataException">The stream ends inside a frame, or a header is not one.</exception>
    public static async Task<MultiplexedFrame?> ReadFrameAsync(Stream source, CancellationToken ct = default)
    {
        var header = new byte[HeaderLength];
        int got = await ReadFullyAsync(source, header, ct);
        if (got == 0) return null;
        if (got < HeaderLength)
            throw new InvalidDataException($"the multiplexed stream ended inside a frame header ({got} of {HeaderLength} bytes)");
        if (header[0] > (byte)StdStream.SystemErr || header[1] != 0 || header[2] != 0 || header[3] != 0)
            throw new InvalidDataException($"not a multiplexed stream frame header: {Convert.ToHexString(header)}");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        if (length > MaxPayload)
            throw new InvalidDataException($"a multiplexed stream frame says it holds {length} bytes, more than the {MaxPayload} accepted");
        var payload = new byte[length];
        got = await ReadFullyAsync(source, payload, ct);
        if (got < payload.Length)
            throw new InvalidDataException($"the multiplexed stream ended inside a frame ({got} of {length} bytes)");
        return new MultiplexedFrame((StdStream)header[0], payload);
    }

    /// <summary>
    /// Copies frames to <paramref name="stdout"/> and <paramref name="stderr"/> until the end of the stream, flushing
    /// after each frame (a client sees output as it comes).
    /// </summary>
    /// <exception cref="StreamErrorException">A systemerr frame: the daemon's message.</exception>
    public static async Task DemultiplexAsync(Stream source, Stream stdout, Stream stderr, CancellationToken ct = default)
    {
        while (await ReadFrameAsync(source, ct) is { } frame)
        {
            switch (frame.Stream)
            {
                case StdStream.Stdout or StdStream.Stdin:
                    await stdout.WriteAsync(frame.Payload, ct);
                    await stdout.FlushAsync(ct);
                    break;
                case StdStream.Stderr:
                    await stderr.WriteAsync(frame.Payload, ct);
                    await stderr.FlushAsync(ct);
                    break;
                default:
                    throw new StreamErrorException(System.Text.Encoding.UTF8.GetString(frame.Payload.Span).TrimEnd());
            }
        }
    }

    static async Task<int> ReadFullyAsync(Stream source, Memory<byte> buffer, CancellationToken ct)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await source.ReadAsync(buffer[total..], ct);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

/// <summary>
/// Writes one stream's bytes as multiplexed frames on a shared connection. Writers of several streams on one
/// connection share a lock so that frames never interleave (header of one, payload of another).
/// </summary>
public sealed class MultiplexedStreamWriter(Stream destination, StdStream stream, SemaphoreSlim? sharedLock = null) : WriteOnlyForwardStream
{
    readonly SemaphoreSlim _lock = sharedLock ?? new SemaphoreSlim(1, 1);

    public StdStream StreamKind => stream;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.IsEmpty) return;
        var frame = new byte[MultiplexedStream.HeaderLength + buffer.Length];
        MultiplexedStream.WriteHeader(frame, stream, buffer.Length);
        buffer.CopyTo(frame.AsMemory(MultiplexedStream.HeaderLength));
        await _lock.WaitAsync(ct);
        try
        {
            await destination.WriteAsync(frame, ct);
            await destination.FlushAsync(ct);
        }
        finally
        {
            _lock.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override void Flush() { }
    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
}
