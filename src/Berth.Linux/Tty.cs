namespace Berth.Linux;

/// <summary>Typed wrappers over the terminal ioctls of <see cref="Libc"/>; errno becomes <see cref="LinuxException"/>.</summary>
public static unsafe class Tty
{
    /// <summary>Unlocks a pty master's peer (unlockpt(3)), which the kernel locks at every open of ptmx.</summary>
    public static void Unlock(Fd master)
    {
        int zero = 0;
        if (Libc.ioctl(master.Value, Libc.TIOCSPTLCK, &zero) < 0) throw LinuxException.FromLastError("ioctl(TIOCSPTLCK)", "pty master");
    }

    /// <summary>The index N of the peer /dev/pts/N of a pty master.</summary>
    public static uint PeerIndex(Fd master)
    {
        uint n;
        if (Libc.ioctl(master.Value, Libc.TIOCGPTN, &n) < 0) throw LinuxException.FromLastError("ioctl(TIOCGPTN)", "pty master");
        return n;
    }

    /// <summary>Opens the peer of a pty master from the master itself (TIOCGPTPEER), never through a path.</summary>
    public static Fd OpenPeer(Fd master)
    {
        int fd = Libc.ioctl(master.Value, Libc.TIOCGPTPEER, (void*)(nint)(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC));
        if (fd < 0) throw LinuxException.FromLastError("ioctl(TIOCGPTPEER)", "pty master");
        return new Fd(fd);
    }

    public static Libc.WinSize GetWindowSize(int fd)
    {
        Libc.WinSize size;
        if (Libc.ioctl(fd, Libc.TIOCGWINSZ, &size) < 0) throw LinuxException.FromLastError("ioctl(TIOCGWINSZ)", $"fd {fd}");
        return size;
    }

    public static void SetWindowSize(int fd, Libc.WinSize size)
    {
        if (Libc.ioctl(fd, Libc.TIOCSWINSZ, &size) < 0) throw LinuxException.FromLastError("ioctl(TIOCSWINSZ)", $"fd {fd}");
    }

    /// <summary>Makes the terminal the controlling terminal of the calling session leader (TIOCSCTTY).</summary>
    public static void SetControllingTerminal(int fd)
    {
        if (Libc.ioctl(fd, Libc.TIOCSCTTY, (void*)0) < 0) throw LinuxException.FromLastError("ioctl(TIOCSCTTY)", $"fd {fd}");
    }

    public static bool IsTerminal(int fd) => Libc.isatty(fd) == 1;

    public static Libc.KernelTermios GetAttributes(int fd)
    {
        Libc.KernelTermios t;
        if (Libc.ioctl(fd, Libc.TCGETS, &t) < 0) throw LinuxException.FromLastError("ioctl(TCGETS)", $"fd {fd}");
        return t;
    }

    /// <summary>Sets the attributes after output already written has drained (TCSETSW, tcsetattr's TCSADRAIN).</summary>
    public static void SetAttributes(int fd, Libc.KernelTermios t)
    {
        for (;;)
        {
            if (Libc.ioctl(fd, Libc.TCSETSW, &t) == 0) return;
            var e = LinuxException.FromLastError("ioctl(TCSETSW)", $"fd {fd}");
            if (e.Errno != Errno.EINTR) throw e;
        }
    }

    /// <summary>cfmakeraw(3): no echo, no line editing, no signals from keys, 8-bit bytes passed as they are.</summary>
    public static Libc.KernelTermios MakeRaw(Libc.KernelTermios t)
    {
        t.IFlag &= ~(Libc.IGNBRK | Libc.BRKINT | Libc.PARMRK | Libc.ISTRIP | Libc.INLCR | Libc.IGNCR | Libc.ICRNL | Libc.IXON);
        t.OFlag &= ~Libc.OPOST;
        t.LFlag &= ~(Libc.ECHO | Libc.ECHONL | Libc.ICANON | Libc.ISIG | Libc.IEXTEN);
        t.CFlag &= ~(Libc.CSIZE | Libc.PARENB);
        t.CFlag |= Libc.CS8;
        t.Cc[Libc.VMIN] = 1;
        t.Cc[Libc.VTIME] = 0;
        return t;
    }
}
