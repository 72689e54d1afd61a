using System.Text;
using Berth.Linux;

namespace Berth.Runtime.Terminal;

/// <summary>
/// The console socket of `--console-socket`: an AF_UNIX stream over which the container's side sends the pty
/// master with SCM_RIGHTS, a name as the message (<see cref="Pty.MasterName"/>, as runc sends it to conmon and
/// containerd's shim).
/// </summary>
public sealed class ConsoleSocket(Fd socket) : IDisposable
{
    /// <summary>The connected socket.</summary>
    public Fd Socket { get; } = socket;

    /// <summary>Connects to the listener at <paramref name="path"/> (the caller's --console-socket).</summary>
    /// <exception cref="ContainerException">Nothing listens there; the message names the path.</exception>
    public static ConsoleSocket Connect(string path)
    {
        try
        {
            return new ConsoleSocket(UnixSocket.Connect(path));
        }
        catch (LinuxException e)
        {
            throw new ContainerException($"--console-socket {path}: {e.Message}");
        }
    }

    /// <summary>A connected pair: the runtime keeps one end to receive the master, the container's side gets the other.</summary>
    public static (ConsoleSocket Receiver, ConsoleSocket Sender) Pair()
    {
        var (a, b) = Sys.SocketPair();
        return (new ConsoleSocket(a), new ConsoleSocket(b));
    }

    /// <summary>Sends the pty master with <paramref name="name"/> as the message (use <see cref="Pty.MasterName"/>).</summary>
    public void SendMaster(Fd master, string name) => UnixSocket.SendFd(Socket, master, Encoding.UTF8.GetBytes(name));

    /// <summary>Receives a pty master and the name sent with it.</summary>
    /// <exception cref="ContainerException">The other side closed the socket without sending one.</exception>
    public (Fd Master, string Name) ReceiveMaster()
    {
        byte[] buffer = new byte[4096];
        var received = UnixSocket.ReceiveFd(Socket, buffer)
            ?? throw new ContainerException("the console socket closed before the container sent its pty master");
        return (received.Fd, Encoding.UTF8.GetString(buffer, 0, received.Length));
    }

    public void Dispose() => Socket.Dispose();
}
