using System.Buffers.Binary;
using System.Net.Sockets;

namespace Berth.Network.Dns;

/// <summary>DNS over TCP: each message preceded by its length in two bytes (RFC 1035 §4.2.2).</summary>
public static class DnsTcp
{
    /// <summary>The next message, or null when the peer closed the connection before its length began.</summary>
    /// <exception cref="IOException">The connection ended inside a message.</exception>
    public static async ValueTask<byte[]?> ReadAsync(Socket socket, CancellationToken cancellation)
    {
        var prefix = new byte[2];
        var got = await ReceiveAsync(socket, prefix, cancellation);
        if (got == 0)
            return null;
        if (got < prefix.Length)
            throw new IOException("The DNS connection ended inside a message's length.");
        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        if (await ReceiveAsync(socket, message, cancellation) < message.Length)
            throw new IOException($"The DNS connection ended inside a message of {message.Length} bytes.");
        return message;
    }

    public static async ValueTask WriteAsync(Socket socket, ReadOnlyMemory<byte> message, CancellationToken cancellation)
    {
        var framed = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed.AsMemory(2));
        for (var sent = 0; sent < framed.Length;)
            sent += await socket.SendAsync(framed.AsMemory(sent), SocketFlags.None, cancellation);
    }

    /// <summary>Fills <paramref name="buffer"/> unless the peer closes first; the number of bytes read.</summary>
    static async ValueTask<int> ReceiveAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellation)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer[got..], SocketFlags.None, cancellation);
            if (read == 0)
                break;
            got += read;
        }
        return got;
    }
}
