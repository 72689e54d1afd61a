namespace Berth.Runtime.Tests;

public class HomeDirectoryTests
{
    const string Passwd = "root:x:0:0:root:/root:/bin/sh\n# a comment\nbad line\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\r\nnohome:x:7:7:::\n";

    [Theory]
    [InlineData(0u, "/root")]
    [InlineData(1000u, "/home/alice")]
    [InlineData(7u, null)]
    [InlineData(5u, null)]
    public void FromPasswd_FindsTheUidsHomeField(uint uid, string? home) => Assert.Equal(home, HomeDirectory.FromPasswd(Passwd, uid));

    [Fact]
    public void Ensure_AddsHome_OnlyWhenMissing()
    {
        bool read = false;
        Assert.Equal(["PATH=/bin", "HOME=/x"], HomeDirectory.Ensure(["PATH=/bin", "HOME=/x"], 0, () => { read = true; return Passwd; }));
        Assert.False(read, "the passwd file was read although HOME was given");
        Assert.Equal(["PATH=/bin", "HOME=/home/alice"], HomeDirectory.Ensure(["PATH=/bin"], 1000, () => Passwd));
        Assert.Equal(["HOME=/"], HomeDirectory.Ensure([], 1000, () => null));
        Assert.Equal(["HOMEDIR=/y", "HOME=/"], HomeDirectory.Ensure(["HOMEDIR=/y"], 5, () => Passwd));
    }

    /// <summary>A root directory with its etc/, removed afterwards.</summary>
    sealed class TempRoot : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("bt-home-").FullName;
        public TempRoot() => Directory.CreateDirectory(System.IO.Path.Combine(Path, "etc"));
        public string Passwd => System.IO.Path.Combine(Path, "etc", "passwd");
        public string? Read()
        {
            using var root = Berth.Linux.Sys.Open(Path, Berth.Linux.Libc.O_PATH | Berth.Linux.Libc.O_DIRECTORY);
            return HomeDirectory.ReadPasswd(root);
        }
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    [Fact]
    public void ReadPasswd_ReadsARegularFile_ThroughASymlinkInsideTheRoot()
    {
        using var root = new TempRoot();
        File.WriteAllText(System.IO.Path.Combine(root.Path, "etc", "passwd.real"), Passwd);
        File.CreateSymbolicLink(root.Passwd, "/etc/passwd.real"); // absolute: resolved inside the root

        Assert.Equal(Passwd, root.Read());
    }

    [Fact]
    public void ReadPasswd_GivesNull_ForWhatIsNotAReadableRegularFile()
    {
        using var root = new TempRoot();
        Assert.Null(root.Read()); // missing

        File.CreateSymbolicLink(root.Passwd, "/etc/passwd"); // a loop
        Assert.Null(root.Read());
        File.Delete(root.Passwd);

        File.CreateSymbolicLink(root.Passwd, "/dev/null"); // outside the root, and a device inside it
        Assert.Null(root.Read());
        File.Delete(root.Passwd);

        Directory.CreateDirectory(root.Passwd);
        Assert.Null(root.Read());
        Directory.Delete(root.Passwd);

        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(root.Passwd));
            Assert.Null(root.Read());
        }
        File.Delete(root.Passwd);

        Assert.Equal(0, Berth.Linux.Libc.mkfifoat(Berth.Linux.Libc.AT_FDCWD, root.Passwd, 0x1a4)); // nobody writes it: must not block
        Assert.Null(root.Read());
    }
}
