using Berth.Linux;
using Berth.Runtime.Rootfs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Tests.Rootfs;

public sealed class InRootTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("berth-inroot-").FullName;
    readonly Fd root;

    public InRootTests()
    {
        int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        Assert.True(fd >= 0);
        root = new Fd(fd);
    }

    public void Dispose()
    {
        root.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    string Real => InRoot.PathOf(root);

    [Fact]
    public void AbsoluteSymlinkResolvesInsideTheRoot()
    {
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.WriteAllText(Path.Combine(dir, "etc", "hostname"), "inside");
        File.CreateSymbolicLink(Path.Combine(dir, "link"), "/etc");

        using Fd fd = InRoot.Open(root, "/link/hostname", O_RDONLY);
        Assert.Equal(Real + "/etc/hostname", InRoot.PathOf(fd));
    }

    [Fact]
    public void DotDotCannotEscape()
    {
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.WriteAllText(Path.Combine(dir, "etc", "passwd"), "inside");
        File.CreateSymbolicLink(Path.Combine(dir, "up"), "../../../../../../etc");

        using Fd viaPath = InRoot.Open(root, "../../../../etc/passwd", O_PATH);
        Assert.Equal(Real + "/etc/passwd", InRoot.PathOf(viaPath));
        using Fd viaLink = InRoot.Open(root, "/up/passwd", O_PATH);
        Assert.Equal(Real + "/etc/passwd", InRoot.PathOf(viaLink));
    }

    [Fact]
    public void MissingFileIsNotFoundInsteadOfTheHostOne()
    {
        // /etc/os-release exists on the host, not in the empty root: a lookup that escaped would find it.
        File.CreateSymbolicLink(Path.Combine(dir, "osr"), "/etc/os-release");
        var error = Assert.Throws<LinuxException>(() => InRoot.Open(root, "/osr", O_PATH));
        Assert.Equal(Errno.ENOENT, error.Errno);
        Assert.Null(InRoot.OpenIfExists(root, "/../etc/os-release", O_PATH));
    }

    [Fact]
    public void SymlinkIntoHostProcResolvesInside()
    {
        File.CreateSymbolicLink(Path.Combine(dir, "self"), "/proc/self/root");
        Directory.CreateDirectory(Path.Combine(dir, "proc"));
        // Inside the root /proc/self does not exist; through the host's procfs it would be a magic link.
        Assert.Null(InRoot.OpenIfExists(root, "/self/etc", O_PATH));
    }

    [Fact]
    public void MkdirAllCreatesNestedDirectories()
    {
        using Fd fd = InRoot.MkdirAll(root, "/a/b/c", 0x1ED);
        Assert.True(Directory.Exists(Path.Combine(dir, "a", "b", "c")));
        Assert.Equal(Real + "/a/b/c", InRoot.PathOf(fd));
        // Again: everything exists, same answer.
        using Fd again = InRoot.MkdirAll(root, "a/b/c", 0x1ED);
        Assert.Equal(Real + "/a/b/c", InRoot.PathOf(again));
    }

    [Fact]
    public void MkdirAllThroughSymlinkToEtcStaysInside()
    {
        string name = "berth-inroot-test-" + Guid.NewGuid().ToString("N");
        File.CreateSymbolicLink(Path.Combine(dir, "etclink"), "/etc");
        Directory.CreateDirectory(Path.Combine(dir, "etc"));

        using Fd fd = InRoot.MkdirAll(root, $"/etclink/{name}/sub", 0x1ED);
        Assert.Equal($"{Real}/etc/{name}/sub", InRoot.PathOf(fd));
        Assert.False(Directory.Exists("/etc/" + name));
    }

    [Fact]
    public void MkdirAllThroughDanglingSymlinkCreatesItsTargetInside()
    {
        string name = "berth-inroot-test-" + Guid.NewGuid().ToString("N");
        File.CreateSymbolicLink(Path.Combine(dir, "dangling"), $"/{name}/deep");
        File.CreateSymbolicLink(Path.Combine(dir, "relative"), "../../missing");

        using Fd fd = InRoot.MkdirAll(root, "/dangling/x", 0x1ED);
        Assert.Equal($"{Real}/{name}/deep/x", InRoot.PathOf(fd));
        Assert.False(Directory.Exists("/" + name));
        using Fd rel = InRoot.MkdirAll(root, "/relative/y", 0x1ED);
        Assert.Equal($"{Real}/missing/y", InRoot.PathOf(rel));
    }

    [Fact]
    public void MkdirAllRefusesAFileComponent()
    {
        File.WriteAllText(Path.Combine(dir, "file"), "x");
        var error = Assert.Throws<LinuxException>(() => InRoot.MkdirAll(root, "/file/sub", 0x1ED));
        Assert.Equal(Errno.ENOTDIR, error.Errno);
        Assert.Contains("/file", error.Message);
    }

    [Fact]
    public void MkdirAllNamesTheFirstComponentThatIsNotADirectory()
    {
        // The lookup starts from the whole path; the error still names the prefix a walk from the root fails at.
        Directory.CreateDirectory(Path.Combine(dir, "a"));
        File.WriteAllText(Path.Combine(dir, "a", "file"), "x");
        var error = Assert.Throws<LinuxException>(() => InRoot.MkdirAll(root, "/a/file/sub/deeper", 0x1ED));
        Assert.Equal(Errno.ENOTDIR, error.Errno);
        Assert.StartsWith("openat2 /a/file:", error.Message);
    }

    [Fact]
    public void MkdirAllStopsASymlinkLoop()
    {
        File.CreateSymbolicLink(Path.Combine(dir, "loop1"), "/loop2/x");
        File.CreateSymbolicLink(Path.Combine(dir, "loop2"), "/loop1/x");
        var error = Assert.Throws<LinuxException>(() => InRoot.MkdirAll(root, "/loop1/y", 0x1ED));
        Assert.Equal(Errno.ELOOP, error.Errno);
    }

    [Fact]
    public void CreateFileMakesParentsAndAnEmptyFile()
    {
        using Fd fd = InRoot.CreateFile(root, "/etc/x/resolv.conf", 0x1A4);
        string path = Path.Combine(dir, "etc", "x", "resolv.conf");
        Assert.True(File.Exists(path));
        Assert.Equal(0, new FileInfo(path).Length);
        Assert.Equal(Real + "/etc/x/resolv.conf", InRoot.PathOf(fd));
    }

    [Fact]
    public void CreateFileKeepsAnExistingFile()
    {
        File.WriteAllText(Path.Combine(dir, "hosts"), "127.0.0.1 localhost\n");
        using Fd fd = InRoot.CreateFile(root, "/hosts", 0x1A4);
        Assert.Equal("127.0.0.1 localhost\n", File.ReadAllText(Path.Combine(dir, "hosts")));
    }

    [Fact]
    public void CreateFileThroughSymlinksStaysInside()
    {
        string name = "berth-inroot-test-" + Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.CreateSymbolicLink(Path.Combine(dir, "etclink"), "/etc");
        File.CreateSymbolicLink(Path.Combine(dir, "etc", "dangling"), "/" + name);

        using Fd viaDir = InRoot.CreateFile(root, $"/etclink/{name}", 0x1A4);
        Assert.Equal($"{Real}/etc/{name}", InRoot.PathOf(viaDir));
        using Fd viaFile = InRoot.CreateFile(root, "/etc/dangling", 0x1A4);
        Assert.Equal($"{Real}/{name}", InRoot.PathOf(viaFile));
        Assert.False(File.Exists("/etc/" + name));
        Assert.False(File.Exists("/" + name));
    }

    [Theory]
    [InlineData("/proc", "/proc")]
    [InlineData("proc//sys/./kernel/", "/proc/sys/kernel")]
    [InlineData("/../../etc/../dev", "/dev")]
    [InlineData("", "/")]
    [InlineData("/..", "/")]
    public void CleanIsLexicalAndRooted(string path, string expected) => Assert.Equal(expected, InRoot.Clean(path));
}
