using System.IO.Compression;
using System.Formats.Tar;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Images.Tests;
using Berth.Linux;
using Berth.Registry.Tests.Infrastructure;
using Berth.Snapshots.RootTests;
using Xunit.Abstractions;
using static Berth.Daemon.Tests.Infrastructure.DockerCli;
using DaemonTools = Berth.Daemon.Tests.Infrastructure.Tools;

namespace Berth.Daemon.Tests;

/// <summary>
/// berthd on a data root that is a small tmpfs, filled so that an operation runs out of space at one point after
/// another (0 bytes free, then one page more each time, until it succeeds): load, import, pull, tag and rmi. After
/// every failure the listing, the data root and a restarted daemon agree with the state before the operation, and no
/// temp file is left (<see cref="ImageDataRoot"/>). The tmpfs is unmounted at the end.
/// </summary>
public sealed class FullDataRootTests(ITestOutputHelper output) : IDisposable
{
    const long TmpfsBytes = 8 << 20;
    const int Page = 4096;
    const string NoSpace = "No space left on device";
    readonly string _root = Directory.CreateTempSubdirectory("berthd-full-").FullName;
    DaemonInstance? _daemon;
    bool _mounted;

    string Filler => Path.Combine(_root, "data", "filler");

    /// <summary>The daemon, started on first use with its data root on a fresh tmpfs.</summary>
    DaemonInstance Daemon
    {
        get
        {
            if (_daemon is not null) return _daemon;
            Skip.IfNot(DaemonTools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
            string data = Path.Combine(_root, "data");
            if (!_mounted)
            {
                Directory.CreateDirectory(data);
                if (Libc.mount("tmpfs", data, "tmpfs", 0, $"size={TmpfsBytes},mode=0700") < 0)
                    throw LinuxException.FromLastError("mount(tmpfs)", data);
                _mounted = true;
            }
            return _daemon = DaemonInstance.Start(_root);
        }
    }

    public void Dispose()
    {
        _daemon?.Dispose();
        string data = Path.Combine(_root, "data");
        if (_mounted && Libc.umount2(data, 0) < 0) Libc.umount2(data, Libc.MNT_DETACH);
        Directory.Delete(_root, recursive: true);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_root, StringComparison.Ordinal));
    }

    /// <summary>Fills the tmpfs with a file so that <paramref name="bytes"/> stay free.</summary>
    void LeaveFree(long bytes)
    {
        File.Delete(Filler);
        Assert.Equal(0, Libc.statfs(Path.GetDirectoryName(Filler)!, out var fs));
        long fill = (long)fs.Bavail * fs.Bsize - bytes;
        Assert.True(fill >= 0, $"only {(long)fs.Bavail * fs.Bsize} bytes are free, less than the {bytes} to leave");
        using var file = new FileStream(Filler, FileMode.CreateNew);
        var zeros = new byte[1 << 20];
        for (long left = fill; left > 0; left -= zeros.Length) file.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
    }

    void Restart()
    {
        Assert.Equal(0, Daemon.Terminate(TimeSpan.FromSeconds(30)));
        _daemon!.Dispose();
        _daemon = null;
    }

    /// <summary>
    /// Runs <paramref name="operation"/> with 0 bytes free, then a page more each time, until it succeeds. Each failure
    /// must be for lack of space and change nothing, as seen by the daemon, on disk, and by the daemon after a restart.
    /// Returns how many runs failed.
    /// </summary>
    int Sweep(string what, Func<ProcessResult> operation, int maxPages = 128)
    {
        string before = ImageDataRoot.AssertConsistent(Daemon);
        for (int pages = 0; pages <= maxPages; pages++)
        {
            LeaveFree((long)pages * Page);
            var result = operation();
            File.Delete(Filler);
            if (result.ExitCode == 0)
            {
                output.WriteLine($"{what}: succeeded with {pages} pages free");
                return pages;
            }
            Assert.True((result.Stdout + result.Stderr).Contains(NoSpace, StringComparison.OrdinalIgnoreCase),
                $"{what} with {pages} pages free failed for another reason:\n{result}");
            output.WriteLine($"{what} with {pages} pages free: {result.Stderr.Trim()}");
            string context = $"{what} with {pages} pages free: {result}";
            Assert.True(before == ImageDataRoot.AssertConsistent(Daemon, context), $"{context}\nchanged the store");
            Restart();
            Assert.Equal(before, ImageDataRoot.AssertConsistent(Daemon, context + "\nand a restart"));
        }
        Assert.Fail($"{what} still failed with {maxPages} pages free");
        return -1;
    }

    string Write(string name, byte[] data)
    {
        // Beside the tmpfs, not on it.
        string path = Path.Combine(_root, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    /// <summary>A layer of one file of incompressible bytes: big enough that its blob and its snapshot take pages each.</summary>
    static byte[] RandomLayer(string name, int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes), ModificationTime = DateTimeOffset.UnixEpoch });
        return ms.ToArray();
    }

    string ImportVictim() => Ok(Docker(Daemon, "import", Write("victim.tar", SaveArchiveBuilder.Tar(("file", "victim\n"))), "victim:latest")).Stdout.Trim();

    [SkippableFact]
    public void Load_out_of_space_at_any_point_changes_nothing()
    {
        ImportVictim();
        var archive = new SaveArchiveBuilder();
        archive.Image(["victim:latest"], [RandomLayer("data", 40_000)]);
        string path = Write("load.tar", archive.Build());
        int failed = Sweep("load", () => Docker(Daemon, "load", "-i", path));
        Assert.True(failed >= 10, $"load succeeded with {failed} pages free: the sweep did not reach its unpack");
    }

    [SkippableFact]
    public void Import_out_of_space_at_any_point_changes_nothing()
    {
        ImportVictim();
        string path = Write("import.tar", RandomLayer("data", 40_000));
        int failed = Sweep("import", () => Docker(Daemon, "import", path, "victim:latest"));
        Assert.True(failed >= 10, $"import succeeded with {failed} pages free: the sweep did not reach its unpack");
    }

    [SkippableFact]
    public void Pull_out_of_space_at_any_point_changes_nothing()
    {
        Skip.If(DaemonTools.Which("skopeo") is null, "skopeo is not installed (apt-get install skopeo)");
        using var registry = new RegistryProcess();
        string layout = Path.Combine(_root, "layout");
        new OciLayout(layout).AddImage("v1", [Layer.Gzip(RandomLayer("data", 40_000))]);
        string reference = $"{registry.Domain}/victim:v1";
        var copy = DaemonTools.Run("skopeo", ["copy", "--dest-tls-verify=false", $"oci:{layout}:v1", $"docker://{reference}"]);
        Assert.True(copy.ExitCode == 0, copy.ToString());
        ImportVictim();
        // The pull moves a tag that names another image now.
        Ok(Docker(Daemon, "tag", "victim:latest", reference));

        int failed = Sweep("pull", () => Docker(Daemon, "pull", reference));
        Assert.True(failed >= 10, $"pull succeeded with {failed} pages free: the sweep did not reach its unpack");
    }

    [SkippableFact]
    public void Tag_and_rmi_out_of_space_change_nothing()
    {
        string victim = ImportVictim();
        Ok(Docker(Daemon, "import", Write("attacker.tar", SaveArchiveBuilder.Tar(("file", "other\n"))), "other:1"));
        Assert.True(Sweep("tag", () => Docker(Daemon, "tag", "other:1", "victim:latest")) >= 1);
        Assert.True(Sweep("rmi of a tag", () => Docker(Daemon, "rmi", "other:1")) >= 1);
        Ok(Docker(Daemon, "tag", "victim:latest", "victim:second"));
        Assert.True(Sweep("rmi of an image", () => Docker(Daemon, "rmi", "-f", victim)) >= 1);
    }

    /// <summary>A small gzip layer that unpacks to more than the disk holds, loaded and imported under a tag that names another image.</summary>
    [SkippableFact]
    public void A_decompression_bomb_runs_out_of_space_and_changes_nothing()
    {
        string victim = ImportVictim();
        string before = ImageDataRoot.AssertConsistent(Daemon);
        var zeros = new MemoryStream();
        using (var writer = new TarWriter(zeros, TarEntryFormat.Pax, leaveOpen: true))
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "zeros") { DataStream = new MemoryStream(new byte[3 * TmpfsBytes]) });
        var bomb = new MemoryStream();
        using (var gzip = new GZipStream(bomb, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(zeros.ToArray());
        Assert.True(bomb.Length < TmpfsBytes / 16);

        var archive = new SaveArchiveBuilder();
        archive.Image(["victim:latest"], [bomb.ToArray()], diffIds: [SaveArchiveBuilder.Sha256(zeros.ToArray())]);
        Assert.Contains(NoSpace, DockerCli.Fails(Docker(Daemon, "load", "-i", Write("bomb-load.tar", archive.Build())), NoSpace).Stderr);
        Assert.Equal(before, ImageDataRoot.AssertConsistent(Daemon));
        DockerCli.Fails(Docker(Daemon, "import", Write("bomb.tar.gz", bomb.ToArray()), "victim:latest"), NoSpace);
        Assert.Equal(before, ImageDataRoot.AssertConsistent(Daemon));
        Restart();
        Assert.Equal(before, ImageDataRoot.AssertConsistent(Daemon));
        Assert.StartsWith(victim + " ", before);
    }
}
