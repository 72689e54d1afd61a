using System.Formats.Tar;
using Berth.Api;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Archive;

/// <summary>
/// The archive endpoints on their own: a created, a running and an exited container; the stat header; bad input
/// (unknown container, missing path, empty or relative path, malformed tar, read-only rootfs), each with dockerd's
/// status and words and nothing left behind: no mount of a stopped container's rootfs, no half-written file.
/// </summary>
public sealed class ArchiveEndpointTests(ContainerDaemon fixture) : DockerScenarioTests(fixture)
{
    ArchiveApi Api() => new(Daemon.Socket);

    string RootfsOf(string id) => Path.Combine(Daemon.DataRoot, "containers", id, "rootfs");

    bool Mounted(string id) => File.ReadAllText("/proc/self/mountinfo").Contains(" " + RootfsOf(id) + " ", StringComparison.Ordinal);

    string Create(params string[] args)
    {
        string name = "ep-" + Guid.NewGuid().ToString("N")[..10];
        return Ok(Docker(["create", "--name", name, .. args])).Stdout.Trim();
    }

    [SkippableFact]
    public void ACreatedContainerIsMountedForTheCopyAndUnmountedAfter()
    {
        string id = Create(ContainerDaemon.One, "sh");
        Assert.False(Mounted(id));
        using var api = Api();
        var put = api.Put(id, "/tmp", ArchiveApi.Tar(("in/", ""), ("in/file", "content\n"), ("in/link", "-> file"), ("in/hard", "=> in/file")));
        Assert.True(put.Status == 200, put.ToString());
        Assert.False(Mounted(id), "the rootfs mounted for the copy is still mounted");
        var head = api.Head(id, "/tmp/in/file");
        Assert.Equal(200, head.Status);
        Assert.Equal("file", head.Stat!.Name);
        Assert.Equal(8, head.Stat.Size);
        Assert.Equal(0x1a4u, head.Stat.Mode);
        Assert.Equal("2001-09-09T01:46:40Z", head.Stat.Mtime);
        var link = api.Head(id, "/tmp/in/link").Stat!;
        Assert.Equal(ContainerPathStat.ModeSymlink | 0x1ffu, link.Mode);
        Assert.Equal("/tmp/in/file", link.LinkTarget);
        Assert.Equal(ContainerPathStat.ModeDir | 0x1edu, api.Head(id, "/tmp").Stat!.Mode);
        var get = api.Get(id, "/tmp/in");
        Assert.Equal(200, get.Status);
        Assert.Equal("in", get.Stat!.Name);
        var entries = ArchiveApi.Entries(get.Body);
        Assert.Equal(["in/", "in/file", "in/hard", "in/link"], entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((TarEntryType.SymbolicLink, "file", ""), entries["in/link"]);
        Assert.Equal((TarEntryType.HardLink, "in/file", ""), entries["in/hard"]);
        Assert.Equal("content\n", entries["in/file"].Content);
        Assert.Equal(["./", "./file", "./hard", "./link"], ArchiveApi.Entries(api.Get(id, "/tmp/in/.").Body).Keys.Order(StringComparer.Ordinal));
        Assert.Contains("/bin/busybox", ArchiveApi.Entries(api.Get(id, "/").Body).Keys);
        Assert.False(Mounted(id));
        Ok(Docker("rm", id));
    }

    [SkippableFact]
    public void ARunningContainerSeesWhatIsCopiedInAndItsRootfsStaysMounted()
    {
        string name = "ep-run-" + Guid.NewGuid().ToString("N")[..8];
        Ok(Docker("run", "-d", "--name", name, ContainerDaemon.One, "sh", "-c", "echo made > /made; sleep 1000"));
        string id = Format("{{.Id}}", name);
        using var api = Api();
        Scenarios.PollUntil(() => api.Get(id, "/made").Status.ToString(), s => s == "200", 30, "/made in the container");
        Assert.Equal("made\n", ArchiveApi.Entries(api.Get(id, "/made").Body)["made"].Content);
        Assert.Equal(200, api.Put(id, "/", ArchiveApi.Tar(("copied", "in\n"))).Status);
        Assert.Equal("in", Ok(Docker("exec", name, "cat", "/copied")).Stdout.Trim());
        Assert.True(Mounted(id));
        Ok(Docker("rm", "-f", name));
        Assert.False(Mounted(id));
    }

    [SkippableFact]
    public void BadInputGetsDockerdsErrorAndLeavesNothing()
    {
        string id = Create(ContainerDaemon.One, "sh");
        string readOnly = Create("--read-only", ContainerDaemon.One, "sh");
        using var api = Api();
        var unknown = api.Get("nosuch" + Guid.NewGuid().ToString("N")[..6], "/");
        Assert.Equal(404, unknown.Status);
        Assert.Contains("No such container: nosuch", unknown.Text);
        Assert.Equal(404, api.Head("nosuch", "/").Status);
        Assert.Equal(404, api.Put("nosuch", "/", ArchiveApi.Tar(("x", "x"))).Status);

        var missing = api.Get(id, "/nope");
        Assert.Equal(404, missing.Status);
        Assert.Contains($"Could not find the file /nope in container {id}", missing.Text);
        Assert.Equal(404, api.Head(id, "/nope/deeper").Status);
        Assert.Contains("Could not find the file /nodir in container", api.Put(id, "/nodir", ArchiveApi.Tar(("x", "x"))).Text);

        // dockerd reads a relative path from "/".
        var relative = api.Get(id, "bin/busybox");
        Assert.Equal(200, relative.Status);
        Assert.Equal("busybox", relative.Stat!.Name);
        var empty = api.Get(id, "");
        Assert.Equal(400, empty.Status);
        Assert.Contains("path cannot be empty", empty.Text);

        var notDir = api.Put(id, "/bin/busybox", ArchiveApi.Tar(("x", "x")));
        Assert.Equal(400, notDir.Status);
        Assert.Contains("extraction point is not a directory", notDir.Text);
        Assert.Equal(400, api.Get(id, "/bin/busybox/").Status);

        var ro = api.Put(readOnly, "/tmp", ArchiveApi.Tar(("x", "x")));
        Assert.Equal(400, ro.Status);
        Assert.Contains("container rootfs is marked read-only", ro.Text);
        Assert.Equal(200, api.Get(readOnly, "/tmp").Status); // reading is fine

        // A tar cut in the middle of a file: an error, and the cut file is not left half written.
        var whole = ArchiveApi.Tar(("good", "complete"), ("cut", new string('x', 4000)));
        var truncated = api.Put(id, "/tmp", whole[..(whole.Length - 3000)]);
        Assert.Equal(400, truncated.Status);
        Assert.Contains("unexpected EOF", truncated.Text);
        Assert.Equal(200, api.Head(id, "/tmp/good").Status);
        Assert.Equal(404, api.Head(id, "/tmp/cut").Status);
        var garbage = api.Put(id, "/tmp", [.. System.Text.Encoding.ASCII.GetBytes(new string('g', 1024))]);
        Assert.Equal(400, garbage.Status);
        Assert.Contains("Error processing tar file", garbage.Text);

        var conflict = api.Put(id, "/tmp", ArchiveApi.Tar(("good/", "")), "&noOverwriteDirNonDir=true");
        Assert.Equal(400, conflict.Status);
        Assert.Contains("cannot overwrite non-directory \\\"/tmp/good\\\" with directory", conflict.Text);
        Assert.Equal(200, api.Put(id, "/tmp", ArchiveApi.Tar(("good/", ""))).Status);
        Assert.True(api.Head(id, "/tmp/good").Stat!.IsDirectory);

        Assert.False(Mounted(id));
        Assert.False(Mounted(readOnly));
        Ok(Docker("rm", id, readOnly));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableFact]
    public void CopyUidGidGivesTheContainersUser()
    {
        string id = Create("--user", "7:8", ContainerDaemon.One, "sh");
        using var api = Api();
        var tar = ArchiveApi.Tar(("owned", "x"));
        Assert.Equal(200, api.Put(id, "/tmp", tar, "&copyUIDGID=true").Status);
        var entry = ReadEntry(api.Get(id, "/tmp/owned").Body);
        Assert.Equal((7, 8), (entry.Uid, entry.Gid));
        Assert.Equal(200, api.Put(id, "/tmp", tar).Status);
        entry = ReadEntry(api.Get(id, "/tmp/owned").Body);
        Assert.Equal((0, 0), (entry.Uid, entry.Gid));
        Ok(Docker("rm", id));
    }

    static TarEntry ReadEntry(byte[] tar) => new TarReader(new MemoryStream(tar)).GetNextEntry()!;
}
