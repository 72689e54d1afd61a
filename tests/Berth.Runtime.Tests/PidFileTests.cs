namespace Berth.Runtime.Tests;

public sealed class PidFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("bt-pidfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Write_ReplacesTheFile_WithThePid()
    {
        string path = Path.Combine(_dir, "init.pid");
        File.WriteAllText(path, "old");

        PidFile.Write(path, 4242);

        Assert.Equal("4242", File.ReadAllText(path));
        Assert.Equal(["init.pid"], Directory.EnumerateFileSystemEntries(_dir).Select(p => Path.GetFileName(p)).ToArray());
    }

    /// <summary>Whoever can write the directory (a container's bind mount) may plant symlinks where the temporary file goes.</summary>
    [Fact]
    public void Write_NeverFollowsASymlinkPlantedAtTheTemporaryName()
    {
        string victim = Path.Combine(_dir, "victim");
        File.WriteAllText(victim, "host-secret");
        string dir = Path.Combine(_dir, "shared");
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { ".exec.pid.tmp", "exec.pid.tmp", ".exec.pid", "exec.pid" })
            File.CreateSymbolicLink(Path.Combine(dir, name), victim);
        string path = Path.Combine(dir, "exec.pid");

        try
        {
            PidFile.Write(path, 4242);
            Assert.Null(new FileInfo(path).LinkTarget);
            Assert.Equal("4242", File.ReadAllText(path));
        }
        catch (ContainerException e)
        {
            Assert.Contains(path, e.Message); // refusing is fine too, with a sentence naming the file
        }
        Assert.Equal("host-secret", File.ReadAllText(victim));
    }

    [Fact]
    public void Write_IntoAMissingDirectory_NamesIt()
    {
        string path = Path.Combine(_dir, "missing", "init.pid");

        var e = Assert.Throws<ContainerException>(() => PidFile.Write(path, 1));

        Assert.Contains(path, e.Message);
    }
}
