using System.Buffers.Binary;
using System.Net.Sockets;

namespace Berth.Monitor;

/// <summary>Docker's stream multiplexing: an 8-byte header [stream, 0, 0, 0, length big-endian] before each chunk.</summary>
static class Frames
{
    public const byte Stdin = 0, Stdout = 1, Stderr = 2;

    public static byte[] Frame(byte stream, ReadOnlySpan<byte> data)
    {
        var frame = new byte[8 + data.Length];
        frame[0] = stream;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)data.Length);
        data.CopyTo(frame.AsSpan(8));
        return frame;
    }
}

/// <summary>
/// One attached client's output: a queue and a thread that writes it, so that a client that does not read holds up
/// only itself. Past <see cref="MaxQueued"/> bytes unsent it is dropped (its connection closed).
/// </summary>
sealed class AttachClient
{
    const int MaxQueued = 4 << 20;

    readonly Socket _socket;
    readonly Queue<byte[]> _queue = new();
    readonly object _lock = new(); // Monitor.Wait/Pulse
    readonly Thread _writer;
    int _queued;
    bool _ending, _dropped;

    /// <param name="first">Bytes sent before any output (the control reply), so that the client can join the output
    /// before the other side hears that it has.</param>
    public AttachClient(Socket socket, bool stdout, bool stderr, bool framed, byte[]? first = null)
    {
        _socket = socket;
        Stdout = stdout;
        Stderr = stderr;
        Framed = framed;
        if (first is not null)
        {
            _queue.Enqueue(first);
            _queued = first.Length;
        }
        _writer = new Thread(WriteLoop, 128 * 1024) { IsBackground = true, Name = "attach" };
        _writer.Start();
    }

    public bool Stdout { get; }
    public bool Stderr { get; }
    public bool Framed { get; }
    public bool Dropped { get { lock (_lock) return _dropped; } }

    public void Send(byte stream, ReadOnlySpan<byte> data)
    {
        if (stream == Frames.Stdout && !Stdout || stream == Frames.Stderr && !Stderr) return;
        var chunk = Framed ? Frames.Frame(stream, data) : data.ToArray();
        lock (_lock)
        {
            if (_dropped || _ending) return;
            if (_queued + chunk.Length > MaxQueued)
            {
                Drop();
                return;
            }
            _queue.Enqueue(chunk);
            _queued += chunk.Length;
            System.Threading.Monitor.Pulse(_lock);
        }
    }

    /// <summary>The output ended: what is queued is still sent (bounded), then the connection is closed.</summary>
    public void End(TimeSpan bound)
    {
        lock (_lock)
        {
            _ending = true;
            System.Threading.Monitor.Pulse(_lock);
        }
        if (!_writer.Join(bound)) lock (_lock) Drop();
    }

    void Drop()
    {
        _dropped = true;
        _queue.Clear();
        _queued = 0;
        System.Threading.Monitor.Pulse(_lock);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Gone already.
        }
    }

    void WriteLoop()
    {
        try
        {
            for (;;)
            {
                byte[] chunk;
                lock (_lock)
                {
                    while (_queue.Count == 0 && !_ending && !_dropped) System.Threading.Monitor.Wait(_lock);
                    if (_dropped || _queue.Count == 0) return;
                    chunk = _queue.Dequeue();
                    _queued -= chunk.Length;
                }
                _socket.Send(chunk);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            lock (_lock) Drop();
        }
        finally
        {
            _socket.Dispose();
        }
    }
}

/// <summary>The container's output to every attached client.</summary>
sealed class OutputFanout
{
    readonly List<AttachClient> _clients = [];
    readonly Lock _lock = new();
    bool _ended;

    /// <summary>False once the output has ended (the caller closes the connection itself).</summary>
    public bool Add(AttachClient client)
    {
        lock (_lock)
        {
            if (_ended) return false;
            _clients.Add(client);
            return true;
        }
    }

    public void Publish(byte stream, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _clients.RemoveAll(c => c.Dropped);
            foreach (var client in _clients) client.Send(stream, data);
        }
    }

    public void End()
    {
        List<AttachClient> clients;
        lock (_lock)
        {
            _ended = true;
            clients = [.. _clients];
            _clients.Clear();
        }
        foreach (var client in clients) client.End(TimeSpan.FromSeconds(5));
    }
}
