using System.Net.Sockets;
using Berth.Linux;

namespace Berth.Monitor;

/// <summary>A listening unix socket on which a runtime sends a pty master (runc's --console-socket); removed on dispose.</summary>
sealed class ConsoleListener : IDisposable
{
    readonly Socket _socket;

    ConsoleListener(string path, Socket socket)
    {
        Path = path;
        _socket = socket;
    }

    public string Path { get; }

    public static ConsoleListener Open(string path)
    {
        File.Delete(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(1);
            return new ConsoleListener(path, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Accepts the runtime's connection and takes the fd it sent, within <paramref name="bound"/>.</summary>
    public Fd ReceiveMaster(TimeSpan bound, string what)
    {
        using var listening = new Fd((int)_socket.Handle, owns: false);
        if (!Sys.WaitReadable(listening, (int)bound.TotalMilliseconds))
            throw new IOException($"waiting for {what} on {Path}: nothing came within {bound.TotalSeconds:0} s");
        using var connection = _socket.Accept();
        using var connected = new Fd((int)connection.Handle, owns: false);
        if (!Sys.WaitReadable(connected, (int)bound.TotalMilliseconds))
            throw new IOException($"waiting for {what} on {Path}: the runtime connected but sent nothing within {bound.TotalSeconds:0} s");
        var received = UnixSocket.ReceiveFd(connected, new byte[4096])
            ?? throw new IOException($"waiting for {what} on {Path}: the runtime closed the connection without sending it");
        return received.Fd;
    }

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(Path);
    }
}
