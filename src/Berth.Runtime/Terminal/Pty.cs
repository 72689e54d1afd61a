using Berth.Linux;
using Berth.Runtime.Rootfs;

namespace Berth.Runtime.Terminal;

/// <summary>
/// A pseudo-terminal allocated from a container's own devpts: the master, unlocked, and its peer obtained from the
/// master (TIOCGPTPEER), never by the /dev/pts/N path a container could redirect (CVE-2025-52565).
/// </summary>
public sealed class Pty : IDisposable
{
    const uint PtmxMajor = 5, PtmxMinor = 2;

    Pty(Fd master, uint index)
    {
        Master = master;
        Index = index;
    }

    /// <summary>
    /// The name sent with the master over a console socket. runc (1.1 through 1.4) sends the master's own file
    /// name, "/dev/ptmx"; receivers (conmon, containerd's shim) do not act on it, but a drop-in sends the same.
    /// </summary>
    public const string MasterName = "/dev/ptmx";

    /// <summary>The master side: what the console socket receives and the relay reads and writes.</summary>
    public Fd Master { get; }

    /// <summary>N of /dev/pts/N inside the container.</summary>
    public uint Index { get; }

    /// <summary>The peer's name as the container sees it ("/dev/pts/N"); for messages and the console socket payload only.</summary>
    public string PeerName => $"/dev/pts/{Index}";

    /// <summary>
    /// Opens dev/ptmx under <paramref name="rootDir"/> (the container's "/": init's own root after pivot_root, or
    /// an O_PATH fd of /proc/INITPID/root for an exec parent) with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
    /// so that /dev/ptmx → pts/ptmx resolves inside the container only. The O_PATH handle must be the ptmx
    /// character device (5:2) of a devpts mount before it is opened for real (through /proc/self/fd, so nothing
    /// else is ever opened read-write by mistake); the peer is then unlocked.
    /// </summary>
    /// <exception cref="ContainerException">No devpts ptmx there, or a pty cannot be allocated; the message says why.</exception>
    public static Pty OpenUnder(Fd rootDir)
    {
        Fd handle;
        try
        {
            handle = InRoot.Open(rootDir, "/dev/ptmx", Libc.O_PATH);
        }
        catch (LinuxException e)
        {
            throw new ContainerException($"process.terminal: opening /dev/ptmx in the container: {e.Message} (a devpts mount at /dev/pts is needed)");
        }
        using (handle)
        {
            Verify(handle, "/dev/ptmx");
            int fd = Libc.open(InRoot.FdPath(handle), Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                var e = LinuxException.FromLastError("open", $"/dev/ptmx (through {InRoot.FdPath(handle)})");
                throw new ContainerException($"process.terminal: allocating a pty: {e.Message}" +
                    (e.Errno == Errno.ENOENT ? " (/proc must be mounted)" : ""));
            }
            var master = new Fd(fd);
            try
            {
                Verify(master, "/dev/ptmx (opened)");
                Tty.Unlock(master);
                return new Pty(master, Tty.PeerIndex(master));
            }
            catch (LinuxException e)
            {
                master.Dispose();
                throw new ContainerException($"process.terminal: setting up the pty: {e.Message}");
            }
            catch
            {
                master.Dispose();
                throw;
            }
        }
    }

    static void Verify(Fd fd, string what)
    {
        var st = Sys.FStat(fd);
        long fs = Sys.FsType(fd);
        if (st.FileType != Libc.S_IFCHR || Libc.major(st.Rdev) != PtmxMajor || Libc.minor(st.Rdev) != PtmxMinor || fs != Libc.DEVPTS_SUPER_MAGIC)
            throw new ContainerException($"process.terminal: {what} in the container is not the ptmx device of a devpts mount " +
                $"(mode 0{Convert.ToString(st.Mode, 8)}, device {Libc.major(st.Rdev)}:{Libc.minor(st.Rdev)}, filesystem 0x{fs:x}); " +
                "mount devpts at /dev/pts");
    }

    /// <summary>A new fd of the peer (O_RDWR | O_NOCTTY | O_CLOEXEC), from the master (TIOCGPTPEER).</summary>
    public Fd OpenPeer() => Tty.OpenPeer(Master);

    /// <summary>Sets the terminal's size (TIOCSWINSZ on the master); the foreground process group gets SIGWINCH.</summary>
    public void Resize(Libc.WinSize size) => Tty.SetWindowSize(Master.Value, size);

    /// <summary>
    /// In init, which the spawn stage made the leader of a new session (as runc): <paramref name="peer"/> as the
    /// session's controlling terminal (TIOCSCTTY), and as stdin, stdout and stderr.
    /// </summary>
    /// <exception cref="LinuxException">The process leads no session, or the peer is not a tty.</exception>
    public static void BecomeControllingTerminalAndStdio(Fd peer)
    {
        Tty.SetControllingTerminal(peer.Value);
        for (int fd = 0; fd <= 2; fd++)
            if (Libc.dup3(peer.Value, fd, 0) < 0) throw LinuxException.FromLastError("dup3", $"pty peer to fd {fd}");
    }

    public void Dispose() => Master.Dispose();
}

/// <summary>process.consoleSize as a struct winsize.</summary>
public static class ConsoleSize
{
    /// <summary>Null when the spec gives no size (or a zero one, which runc ignores too).</summary>
    /// <exception cref="ContainerException">A dimension does not fit the kernel's 16 bits.</exception>
    public static Libc.WinSize? From(Oci.Box? box)
    {
        if (box is null || box.Height == 0 || box.Width == 0) return null;
        if (box.Height > ushort.MaxValue)
            throw new ContainerException($"$.process.consoleSize.height {box.Height} is larger than {ushort.MaxValue}");
        if (box.Width > ushort.MaxValue)
            throw new ContainerException($"$.process.consoleSize.width {box.Width} is larger than {ushort.MaxValue}");
        return new Libc.WinSize { Rows = (ushort)box.Height, Columns = (ushort)box.Width };
    }
}
