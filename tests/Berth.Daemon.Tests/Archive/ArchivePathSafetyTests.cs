using System.Diagnostics;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Archive;

/// <summary>
/// DESIGN §3 from docker cp's entry point: berthd copies files in and out of a container whose tree is hostile
/// (symlinks to "/", to "/../../..", to /proc/1/root, tar entries that climb out or write through a symlink, and the
/// CVE-2018-15664 race of a directory swapped for a symlink while the daemon copies). Each test has a host file or
/// directory of its own under /tmp that the container also names: the daemon must read and write the container's,
/// never the host's.
/// </summary>
public sealed class ArchivePathSafetyTests(ContainerDaemon fixture) : DockerScenarioTests(fixture), IDisposable
{
    readonly string _tag = Guid.NewGuid().ToString("N")[..12];
    string HostDir => $"/tmp/berth-archive-{_tag}";

    ArchiveApi Api() => new(Daemon.Socket);

    /// <summary>The host's marker: a directory only this test uses, holding "secret" = "HOST".</summary>
    void MakeHostMarker()
    {
        Directory.CreateDirectory(HostDir);
        File.WriteAllText(Path.Combine(HostDir, "secret"), "HOST " + _tag);
    }

    /// <summary>A container (exited) whose setup script ran; its id.</summary>
    string Container(string script)
    {
        string name = "arch-" + Guid.NewGuid().ToString("N")[..10];
        Ok(Docker("run", "--name", name, ContainerDaemon.One, "sh", "-c", script));
        return Format("{{.Id}}", name);
    }

    string Upper(string id, string path) => Path.Combine(Daemon.DataRoot, "containers", id, "rw", "upper", path.TrimStart('/'));

    void AssertNoMountLeft(string id) =>
        Assert.DoesNotContain(Path.Combine(Daemon.DataRoot, "containers", id, "rootfs"), File.ReadAllText("/proc/self/mountinfo"));

    [SkippableTheory]
    [InlineData("/")]
    [InlineData("/../../..")]
    [InlineData("../../../../../../../../..")]
    [InlineData("/proc/1/root")]
    [InlineData("/proc/self/root")]
    public void ReadingThroughASymlinkToTheRootReadsTheContainersFileNeverTheHosts(string target)
    {
        MakeHostMarker();
        string with = Container($"ln -s '{target}' /x; mkdir -p {HostDir}; echo CONTAINER > {HostDir}/secret");
        string without = Container($"ln -s '{target}' /x");
        using var api = Api();
        foreach (var id in new[] { with, without })
        {
            foreach (var answer in new[] { api.Head(id, $"/x{HostDir}/secret"), api.Get(id, $"/x{HostDir}/secret"), api.Get(id, $"/x{HostDir}/"), api.Get(id, $"/x{HostDir}/.") })
            {
                Assert.DoesNotContain("HOST", answer.Text);
                Assert.NotEqual(answer.Stat?.Size, ("HOST " + _tag).Length);
            }
            var get = api.Get(id, $"/x{HostDir}/secret");
            bool insideHasIt = id == with && !target.StartsWith("/proc", StringComparison.Ordinal);
            if (insideHasIt)
            {
                Assert.True(get.Status == 200, get.ToString());
                Assert.Equal("CONTAINER\n", ArchiveApi.Entries(get.Body)["secret"].Content);
            }
            else Assert.True(get.Status is 404 or 400, get.ToString()); // /proc is empty in the rootfs; /proc/*/root is a magic link
            AssertNoMountLeft(id);
        }
    }

    [SkippableTheory]
    [InlineData("/")]
    [InlineData("/../../..")]
    [InlineData("/proc/1/root")]
    public void WritingThroughASymlinkedDirectoryWritesInsideTheContainer(string target)
    {
        MakeHostMarker();
        string id = Container($"ln -s '{target}' /x; mkdir -p {HostDir}");
        using var api = Api();
        var put = api.Put(id, $"/x{HostDir}", ArchiveApi.Tar(("secret", "OVERWRITTEN"), ("planted", "PLANTED")));
        Assert.Equal("HOST " + _tag, File.ReadAllText(Path.Combine(HostDir, "secret")));
        Assert.False(File.Exists(Path.Combine(HostDir, "planted")), "the daemon wrote a host file through the container's symlink");
        if (target.StartsWith("/proc", StringComparison.Ordinal)) Assert.True(put.Status is 404 or 400, put.ToString());
        else
        {
            Assert.True(put.Status == 200, put.ToString());
            Assert.Equal("PLANTED", File.ReadAllText(Upper(id, $"{HostDir}/planted")));
        }
        AssertNoMountLeft(id);
    }

    [SkippableFact]
    public void TarEntriesThatClimbOutOfTheDestinationAreRefusedAndNothingReachesTheHost()
    {
        MakeHostMarker();
        string id = Container("mkdir /data");
        string up = string.Concat(Enumerable.Repeat("../", 12));
        using var api = Api();
        var escape = api.Put(id, "/data", ArchiveApi.Tar(($"{up}tmp/berth-archive-{_tag}/escape", "ESCAPED")));
        Assert.Equal(400, escape.Status);
        Assert.Contains("is outside of \\\"/data\\\"", escape.Text);
        var symlink = api.Put(id, "/data", ArchiveApi.Tar(("up", "-> " + up), ("up/tmp/x", "x")));
        Assert.Equal(400, symlink.Status);
        Assert.Contains("invalid symlink", symlink.Text);
        var hardlink = api.Put(id, "/data", ArchiveApi.Tar(("hl", $"=> {up}tmp/berth-archive-{_tag}/secret")));
        Assert.Equal(400, hardlink.Status);
        Assert.Contains("invalid hardlink", hardlink.Text);
        Assert.False(File.Exists(Path.Combine(HostDir, "escape")));
        Assert.Equal(["secret"], Directory.GetFileSystemEntries(HostDir).Select(Path.GetFileName));
        // An absolute name is read below the destination, as dockerd does.
        var absolute = api.Put(id, "/data", ArchiveApi.Tar(($"/tmp/berth-archive-{_tag}/abs", "ABS")));
        Assert.True(absolute.Status == 200, absolute.ToString());
        Assert.Equal("ABS", File.ReadAllText(Upper(id, $"/data/tmp/berth-archive-{_tag}/abs")));
        Assert.False(File.Exists(Path.Combine(HostDir, "abs")));
        AssertNoMountLeft(id);
    }

    [SkippableFact]
    public void AFileWrittenThroughASymlinkOfTheSameTarStaysInTheContainer()
    {
        MakeHostMarker();
        string id = Container($"mkdir -p /data {HostDir}");
        using var api = Api();
        var put = api.Put(id, "/data", ArchiveApi.Tar(("sl", $"-> {HostDir}"), ("sl/through", "THROUGH"), ("root", "-> /"), ($"root{HostDir}/secret", "OVER")));
        Assert.True(put.Status == 200, put.ToString());
        Assert.False(File.Exists(Path.Combine(HostDir, "through")), "the daemon followed the tar's symlink on the host");
        Assert.Equal("HOST " + _tag, File.ReadAllText(Path.Combine(HostDir, "secret")));
        // As dockerd (it extracts chrooted in the container's root): the symlink leads to the container's directory.
        Assert.Equal("THROUGH", File.ReadAllText(Upper(id, $"{HostDir}/through")));
        Assert.Equal("OVER", File.ReadAllText(Upper(id, $"{HostDir}/secret")));
        AssertNoMountLeft(id);
    }

    /// <summary>
    /// CVE-2018-15664: a running container swaps a directory and a symlink to "/" in a loop while the daemon copies
    /// out of and into paths through it, many times. Every answer is the container's file or a miss; no host file is
    /// ever read, created or changed.
    /// </summary>
    [SkippableFact]
    public void TheSymlinkExchangeRaceNeverReachesTheHost()
    {
        MakeHostMarker();
        string name = "race-" + Guid.NewGuid().ToString("N")[..10];
        string script = $"mkdir -p /w/d{HostDir}; echo CONTAINER > /w/d{HostDir}/secret; ln -s / /w/link; " +
                        "while :; do mv /w/d /w/t; mv /w/link /w/d; usleep 1000; mv /w/d /w/link; mv /w/t /w/d; done";
        Ok(Docker("run", "-d", "--name", name, ContainerDaemon.One, "sh", "-c", script));
        string id = Format("{{.Id}}", name);
        using var api = Api();
        // docker run -d returns before the script has made its tree: copies before that would all miss.
        Scenarios.PollUntil(() => api.Head(id, "/w/t").Status + " " + api.Head(id, "/w/link").Status, s => s.Contains("200"), 60, "the container's swap loop to start");
        int container = 0, misses = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; (i < 300 || container == 0 || misses == 0) && clock.Elapsed < TimeSpan.FromSeconds(120); i++)
        {
            var get = api.Get(id, $"/w/d{HostDir}/secret");
            Assert.DoesNotContain("HOST", get.Text);
            if (get.Status == 200) { Assert.Contains(ArchiveApi.Entries(get.Body)["secret"].Content, new[] { "CONTAINER\n", "OVER" }); container++; }
            else misses++;
            var put = api.Put(id, $"/w/d{HostDir}", ArchiveApi.Tar(($"planted-{i}", "PLANTED"), ("secret", "OVER")));
            Assert.True(put.Status is 200 or 404 or 400, put.ToString());
        }
        Ok(Docker("rm", "-f", name));
        Assert.Equal(["secret"], Directory.GetFileSystemEntries(HostDir).Select(Path.GetFileName));
        Assert.Equal("HOST " + _tag, File.ReadAllText(Path.Combine(HostDir, "secret")));
        Assert.True(container > 0 && misses > 0, $"{container} copies found the container's file and {misses} found none: the swap was not exercised");
    }

    public void Dispose()
    {
        if (Directory.Exists(HostDir)) Directory.Delete(HostDir, recursive: true);
    }
}
