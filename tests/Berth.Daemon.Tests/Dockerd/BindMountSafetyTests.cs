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

    /// <summary>The busybox layer, and a second one with a symlink at /NAME to each target.</summary>
    void LoadImage(string reference, (string Name, string Target)[] links)
    {
        using var layer = new MemoryStream();
        using (var writer = new TarWriter(layer, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var (name, target) in links)
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target });
        var archive = new SaveArchiveBuilder();
        archive.Image([reference], [BusyboxLayer.Tar(), layer.ToArray()]);
        string file = Path.Combine(berthd.Daemon.Root, Guid.NewGuid().ToString("N") + ".tar");
        File.WriteAllBytes(file, archive.Build());
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "load", "-i", file));
    }
}
