using Berth.Linux;
using Berth.Runtime.Rootfs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Tests.Rootfs;

public sealed class DirectoryCopyTests : IDisposable
{
    readonly string work = Directory.CreateTempSubdirectory("berth-copy-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void ContentsAreCopied_SymlinksAsSymlinks_WithModesAndTimes()
    {
        string from = Directory.CreateDirectory(Path.Combine(work, "from")).FullName;
        string to = Directory.CreateDirectory(Path.Combine(work, "to")).FullName;
        Directory.CreateDirectory(Path.Combine(from, "sub"));
        File.WriteAllText(Path.Combine(from, "sub", "file"), "content");
        File.SetUnixFileMode(Path.Combine(from, "sub", "file"), UnixFileMode.UserRead | UnixFileMode.OtherRead);
        var old = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(Path.Combine(from, "sub", "file"), old);
        // Absolute, pointing out of the tree: copied as it is, never followed.
        File.CreateSymbolicLink(Path.Combine(from, "out"), "/etc/hostname");
        Assert.Equal(0, mkfifoat(AT_FDCWD, Path.Combine(from, "fifo"), 0x1A0));
        File.SetUnixFileMode(Path.Combine(from, "sub"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

        using (var source = Sys.Open(from, O_RDONLY | O_DIRECTORY))
        using (var target = Sys.Open(to, O_RDONLY | O_DIRECTORY))
            DirectoryCopy.Contents(source, target, "/from");

        Assert.Equal(["fifo", "out", "sub"], Directory.EnumerateFileSystemEntries(to).Select(Path.GetFileName).Order());
        Assert.Equal("content", File.ReadAllText(Path.Combine(to, "sub", "file")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.OtherRead, File.GetUnixFileMode(Path.Combine(to, "sub", "file")));
        Assert.Equal(old, File.GetLastWriteTimeUtc(Path.Combine(to, "sub", "file")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(to, "sub")));
        Assert.Equal("/etc/hostname", new FileInfo(Path.Combine(to, "out")).LinkTarget);
        Assert.Equal(0, fstatat(AT_FDCWD, Path.Combine(to, "fifo"), out Stat fifo, AT_SYMLINK_NOFOLLOW));
        Assert.Equal(S_IFIFO, fifo.FileType);
        Assert.Equal(0x1A0u, fifo.Mode & 0xFFF);
        File.SetUnixFileMode(Path.Combine(from, "sub"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(Path.Combine(to, "sub"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    [Fact]
    public void ReadDirectoryListsEveryNameButDots()
    {
        for (int i = 0; i < 600; i++) File.WriteAllText(Path.Combine(work, $"name-{i:D4}-{new string('x', 40)}"), "");
        using var dir = Sys.Open(work, O_RDONLY | O_DIRECTORY);
        var names = Sys.ReadDirectory(dir);
        Assert.Equal(600, names.Count); // more than one getdents64 buffer's worth
        Assert.DoesNotContain(".", names);
        Assert.DoesNotContain("..", names);
    }
}
