using System.Formats.Tar;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Images.Tests;
using Berth.Registry.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// DESIGN §3 from berthd's bind mounts: an image whose tree turns a bind's destination into a symlink out of its root
/// ("/../../..", a relative climb, /proc/self/root, which is the host's root while init still builds the rootfs). The
/// runtime must resolve the destination inside the container's root (openat2 RESOLVE_IN_ROOT, no magic links): the
/// host path the symlink names is never made or mounted on, and the bind lands where the container itself finds it.
/// </summary>
public sealed class BindMountSafetyTests(ContainerDaemon berthd) : IClassFixture<ContainerDaemon>
{
    [SkippableFact]
    public void ABindDestinationThatIsASymlinkOutOfTheRootStaysInside()
    {
        using var host = new TempDir();
        // Paths on the host that the image's symlinks name; none exists, so a runtime that followed one on the host would
        // have to make it.
        string escape = Path.Combine(host.Path, "escape");
        string image = "bind-attack/" + Guid.NewGuid().ToString("N")[..8] + ":1";
        var links = new (string Name, string Target)[]
        {
            ("absolute", "/../../../../../../../.." + escape + "/absolute"),
            ("relative", "../../../../../../../.." + escape + "/relative"),
            ("procroot", "/proc/self/root" + escape + "/procroot"),
        };
        LoadImage(image, links);

        foreach (var (name, _) in links)
        {
            string source = Path.Combine(host.Path, "source-" + name);
            Directory.CreateDirectory(source);
            var run = DockerCli.Docker(berthd.Daemon, "run", "--rm", "--network", "none", "-v", $"{source}:/{name}", image,
                "sh", "-c", $"echo written > /{name}/x");
            Assert.False(Directory.Exists(escape), $"/{name}: the runtime made {escape} on the host, following the image's symlink\n{run}");
            if (run.ExitCode == 0)
                Assert.True(File.Exists(Path.Combine(source, "x")), $"/{name}: the container wrote through its symlink, but not into the bind: {run}");
            else
                Assert.True(run.Stderr.Contains(name), $"/{name}: refused without naming the mount: {run}");
        }
        // The two plain climbs resolve inside the root, where the bind must be: they cannot fail.
        Assert.True(File.Exists(Path.Combine(host.Path, "source-absolute", "x")) && File.Exists(Path.Combine(host.Path, "source-relative", "x")),
            "a climb by \"..\" must resolve inside the root and take the bind there");
    }

    [SkippableFact]
    public void TheCopyOfAnImageDirectoryIntoANewVolumeNeverReadsTheHost()
    {
        // The daemon copies the image's files at a volume's destination into the volume when it is new: the image's
        // symlinks must be copied as symlinks, and a destination that is a symlink resolved inside the root.
        using var host = new TempDir();
        string secretDir = Path.Combine(host.Path, "secret");
        Directory.CreateDirectory(secretDir);
        string secret = Path.Combine(secretDir, "key");
        File.WriteAllText(secret, "host secret\n");
        string image = "volume-attack/" + Guid.NewGuid().ToString("N")[..8] + ":1";
        LoadImage(image, [("data/", ""), ("data/key-link", secret), ("data/dir-link", secretDir), ("data/plain", "=image file\n"),
            ("data2", "/../../../../../../../.." + secretDir)]);
        string tag = Guid.NewGuid().ToString("N")[..8];
        string linksVolume = "attack-links-" + tag, climbVolume = "attack-climb-" + tag;
        try
        {
            DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "run", "--rm", "--network", "none", "-v", linksVolume + ":/data", "-v", climbVolume + ":/data2", image, "true"));
            string links = Path.Combine(berthd.Daemon.DataRoot, "volumes", linksVolume, "_data");
            Assert.Equal("image file\n", File.ReadAllText(Path.Combine(links, "plain")));
            Assert.Equal(secret, new FileInfo(Path.Combine(links, "key-link")).LinkTarget);
            Assert.Equal(secretDir, new DirectoryInfo(Path.Combine(links, "dir-link")).LinkTarget);
            string climb = Path.Combine(berthd.Daemon.DataRoot, "volumes", climbVolume, "_data");
            Assert.Empty(Directory.GetFileSystemEntries(climb)); // /data2 resolved inside the root, where nothing is
            Assert.Equal(["dir-link", "key-link", "plain"], Directory.GetFileSystemEntries(links).Select(Path.GetFileName).Order());
            // Removing the volume removes the links, never what they name on the host.
            DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "volume", "rm", linksVolume, climbVolume));
            Assert.False(Directory.Exists(links));
            Assert.Equal("host secret\n", File.ReadAllText(secret));
        }
        finally
        {
            DockerCli.Docker(berthd.Daemon, "volume", "rm", "-f", linksVolume, climbVolume);
        }
    }

    /// <summary>The busybox layer, and a second one with each entry: a directory (NAME/), a file (TARGET "=content"), else a symlink.</summary>
    void LoadImage(string reference, (string Name, string Target)[] links)
    {
        using var layer = new MemoryStream();
        using (var writer = new TarWriter(layer, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var (name, target) in links)
                writer.WriteEntry(name.EndsWith('/') ? new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0x1ed }
                    : target.StartsWith('=') ? new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0x1a4, DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(target[1..])) }
                    : new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target });
        var archive = new SaveArchiveBuilder();
        archive.Image([reference], [BusyboxLayer.Tar(), layer.ToArray()]);
        string file = Path.Combine(berthd.Daemon.Root, Guid.NewGuid().ToString("N") + ".tar");
        File.WriteAllBytes(file, archive.Build());
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "load", "-i", file));
    }
}
