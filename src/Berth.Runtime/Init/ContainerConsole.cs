using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Runtime.Terminal;

namespace Berth.Runtime.Init;

/// <summary>
/// process.terminal inside init, after pivot_root: a pty from the container's devpts, its peer bound onto
/// /dev/console and made the controlling terminal and stdio, the master sent over the console socket.
/// </summary>
internal static class ContainerConsole
{
    public static void SetUp(int socketFd, ProcessConfig process, Libc.WinSize? size)
    {
        if (socketFd < 0 || !Sys.IsOpen(socketFd))
            throw new ContainerException("process.terminal: the runtime passed no console socket to init");
        using var socket = new ConsoleSocket(new Fd(socketFd));
        using Fd root = Sys.Open("/", Libc.O_PATH | Libc.O_DIRECTORY);
        using var pty = Pty.OpenUnder(root);
        try
        {
            if (size is { } s) pty.Resize(s);
            using Fd peer = pty.OpenPeer();
            // The process may run as another user: its terminal must be its own (the group stays devpts' gid=).
            if (Libc.fchown(peer.Value, process.Uid, uint.MaxValue) != 0)
                throw LinuxException.FromLastError("fchown", $"{pty.PeerName} to uid {process.Uid}");
            ConsoleTarget.Bind(root, peer);
            socket.SendMaster(pty.Master, Pty.MasterName);

            Pty.BecomeControllingTerminalAndStdio(peer);
        }
        catch (LinuxException e)
        {
            throw new ContainerException($"process.terminal: {e.Message}");
        }
    }
}
