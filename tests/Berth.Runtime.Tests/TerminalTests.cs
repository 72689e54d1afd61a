using System.Text;
using Berth.Linux;
using Berth.Runtime.Terminal;

namespace Berth.Runtime.Tests;

public class ConsoleModeTests
{
    [Theory]
    [InlineData(false, true, null, ConsoleMode.None)]
    [InlineData(false, false, null, ConsoleMode.None)]
    [InlineData(true, true, null, ConsoleMode.Relay)]
    [InlineData(true, false, "/run/c.sock", ConsoleMode.Socket)]
    public void AllowedCombinations(bool terminal, bool foreground, string? socket, ConsoleMode expected) =>
        Assert.Equal(expected, ConsoleModes.Decide(terminal, foreground, socket));

    [Fact]
    public void DetachedTerminalNeedsASocket()
    {
        var e = Assert.Throws<ContainerException>(() => ConsoleModes.Decide(true, false, null));
        Assert.Contains("--console-socket", e.Message);
        Assert.Contains("process.terminal", e.Message);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void ASocketIsOnlyForADetachedTerminal(bool terminal, bool foreground)
    {
        var e = Assert.Throws<ContainerException>(() => ConsoleModes.Decide(terminal, foreground, "/run/c.sock"));
        Assert.Contains("--console-socket /run/c.sock", e.Message);
    }
}

public class ConsoleSizeTests
{
    [Fact]
    public void BoxBecomesWinsize()
    {
        var size = ConsoleSize.From(new Oci.Box { Height = 24, Width = 80 });
        Assert.NotNull(size);
        Assert.Equal(24, size.Value.Rows);
        Assert.Equal(80, size.Value.Columns);
    }

    [Fact]
    public void NoSizeOrAZeroDimensionLeavesTheKernelDefault()
    {
        Assert.Null(ConsoleSize.From(null));
        Assert.Null(ConsoleSize.From(new Oci.Box { Height = 0, Width = 80 }));
    }

    [Fact]
    public void ADimensionBeyond16BitsIsRefusedByItsJsonPath()
    {
        var e = Assert.Throws<ContainerException>(() => ConsoleSize.From(new Oci.Box { Height = 10, Width = 70000 }));
        Assert.Contains("$.process.consoleSize.width 70000", e.Message);
    }
}

public unsafe class TtyTests
{
    [Fact]
    public void MakeRawClearsLineEditingEchoSignalsAndOutputProcessing()
    {
        var cooked = new Libc.KernelTermios
        {
            IFlag = Libc.ICRNL | Libc.IXON | Libc.BRKINT | 0x2000 /* IUTF8 */,
            OFlag = Libc.OPOST | Libc.ONLCR,
            CFlag = 0xbf /* B38400 | CS8 | CREAD */ | Libc.PARENB,
            LFlag = Libc.ECHO | Libc.ICANON | Libc.ISIG | Libc.IEXTEN | 0x20 /* ECHOK */,
        };
        cooked.Cc[Libc.VMIN] = 0;
        cooked.Cc[Libc.VTIME] = 3;

        var raw = Tty.MakeRaw(cooked);

        Assert.Equal(0u, raw.LFlag & (Libc.ECHO | Libc.ICANON | Libc.ISIG | Libc.IEXTEN));
        Assert.Equal(0u, raw.IFlag & (Libc.ICRNL | Libc.IXON | Libc.BRKINT));
        Assert.Equal(0x2000u, raw.IFlag & 0x2000); // untouched bits stay
        Assert.Equal(0u, raw.OFlag & Libc.OPOST);
        Assert.Equal(Libc.CS8, raw.CFlag & Libc.CSIZE);
        Assert.Equal(0u, raw.CFlag & Libc.PARENB);
        Assert.Equal(1, raw.Cc[Libc.VMIN]);
        Assert.Equal(0, raw.Cc[Libc.VTIME]);
        Assert.Equal(Libc.ECHO, cooked.LFlag & Libc.ECHO); // a copy: the saved attributes stay as they were
    }
}

public class ConsoleSocketTests
{
    [Fact]
    public void AnFdAndItsNameCrossTheSocket()
    {
        var (receiver, sender) = ConsoleSocket.Pair();
        using (receiver)
        using (sender)
        {
            var (read, write) = Sys.Pipe();
            using (read)
            {
                using (write) sender.SendMaster(write, "/dev/pts/7");
                var (received, name) = receiver.ReceiveMaster();
                using (received)
                {
                    Assert.Equal("/dev/pts/7", name);
                    Assert.True((Libc.fcntl(received.Value, Libc.F_GETFD, 0) & Libc.FD_CLOEXEC) != 0, "received fd must be close-on-exec");
                    Sys.WriteAll(received, "through"u8);
                }
                var buffer = new byte[16];
                int n = Sys.Read(read, buffer);
                Assert.Equal("through", Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
    }

    [Fact]
    public void EofWithoutAnFdIsAnErrorThatSaysSo()
    {
        var (receiver, sender) = ConsoleSocket.Pair();
        using (receiver)
        {
            sender.Dispose();
            var e = Assert.Throws<ContainerException>(() => receiver.ReceiveMaster());
            Assert.Contains("closed before", e.Message);
        }
    }

    [Fact]
    public void AMessageWithoutAnFdIsRefused()
    {
        var (receiver, sender) = ConsoleSocket.Pair();
        using (receiver)
        using (sender)
        {
            Sys.WriteAll(sender.Socket, "/dev/pts/0"u8);
            var e = Assert.Throws<IOException>(() => receiver.ReceiveMaster());
            Assert.Contains("without a file descriptor", e.Message);
        }
    }

    [Fact]
    public void ConnectingToAMissingPathNamesIt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"berth-no-such-{Guid.NewGuid():N}.sock");
        var e = Assert.Throws<ContainerException>(() => ConsoleSocket.Connect(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void APathLongerThanSunPathIsReachedThroughItsDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "berth-long-" + new string('d', 100));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "console.sock");
        try
        {
            using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            // .NET binds long paths itself only up to sun_path too: bind through the directory's /proc/self/fd path.
            using var dirFd = Sys.Open(dir, Libc.O_PATH | Libc.O_DIRECTORY);
            listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint($"/proc/self/fd/{dirFd.Value}/console.sock"));
            listener.Listen(1);
            Assert.True(path.Length > 108);
            using var connected = ConsoleSocket.Connect(path);
            using var accepted = listener.Accept();
            Assert.True(accepted.Connected);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

public class PtyTests
{
    [Fact]
    public void APtmxOutsideDevptsIsRefused()
    {
        // A directory whose dev/ptmx is a regular file stands for an image that lies about its ptmx.
        string root = Path.Combine(Path.GetTempPath(), $"berth-pty-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "dev"));
        File.WriteAllText(Path.Combine(root, "dev", "ptmx"), "");
        try
        {
            using var rootFd = Sys.Open(root, Libc.O_PATH | Libc.O_DIRECTORY);
            var e = Assert.Throws<ContainerException>(() => Pty.OpenUnder(rootFd));
            Assert.Contains("/dev/ptmx", e.Message);
            Assert.Contains("devpts", e.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ASymlinkOutOfTheRootStaysInsideIt()
    {
        // dev/ptmx -> /dev/pts/ptmx must resolve under the given root (where it does not exist), never on the host.
        string root = Path.Combine(Path.GetTempPath(), $"berth-pty-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "dev"));
        File.CreateSymbolicLink(Path.Combine(root, "dev", "ptmx"), "/dev/pts/ptmx");
        try
        {
            using var rootFd = Sys.Open(root, Libc.O_PATH | Libc.O_DIRECTORY);
            var e = Assert.Throws<ContainerException>(() => Pty.OpenUnder(rootFd));
            Assert.Contains("No such file", e.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
