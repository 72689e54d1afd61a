using System.Buffers.Binary;

namespace Berth.Api;

/// <summary>The stream a multiplexed frame carries (the first byte of its header).</summary>
public enum StdStream : byte
{
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

/// <summary>
/// Docker's multiplexed stdout/stderr stream (logs and attach of a container without a terminal): each frame is an
/// 8-byte header <c>[stream, 0, 0, 0, length as big-endian uint32]</c> followed by that many bytes of output.
/// </summary>
public static class MultiplexedStream
{
    public const int HeaderSize = 8;

    public static void WriteHeader(Span<byte> header, StdStream stream, int length)
    {
        header[..4].Clear();
        header[0] = (byte)stream;
        BinaryPrimitives.WriteUInt32BigEndian(header[4..HeaderSize], (uint)length);
    }

    /// <summary>One frame of <paramref name="payload"/>; with <paramref name="raw"/> (a terminal) the bytes alone, as Docker sends them then.</summary>
    public static async ValueTask WriteAsync(Stream output, StdStream stream, ReadOnlyMemory<byte> payload, bool raw, CancellationToken ct)
    {
        if (!raw)
        {
            var header = new byte[HeaderSize];
            WriteHeader(header, stream, payload.Length);
            await output.WriteAsync(header, ct);
        }
        await output.WriteAsync(payload, ct);
    }
}
