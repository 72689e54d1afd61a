using System.Formats.Tar;
using System.Text;

using Berth.Daemon.Tests.Infrastructure;
using Berth.Registry.Tests.Infrastructure;
using Tools = Berth.Daemon.Tests.Infrastructure.Tools;

namespace Berth.Daemon.Tests.Archive;

/// <summary>
/// The same docker cp session, with the real docker CLI, against berthd and against a private dockerd 20.10 on this
/// host: files and directories in and out, onto an existing directory and file, trailing "/.", symlinks, errors. Exit
/// codes, what the CLI printed (container names aside) and the trees that resulted must be the same.
/// </summary>
public sealed class DockerCpComparisonTests(ContainerDaemon berthd, Dockerd.PrivateDockerd dockerd)
    : IClassFixture<ContainerDaemon>, IClassFixture<Dockerd.PrivateDockerd>
{
    sealed record Engine(string Image, Func<string[], ProcessResult> Docker);

    [SkippableFact]
    public void DockerCpBehavesAsAgainstDockerd()
    {
        dockerd.SkipUnlessAvailable();
        var ours = Session(new Engine(ContainerDaemon.One, args => DockerCli.Docker(berthd.Daemon, args)));
        var theirs = Session(new Engine("bb", dockerd.Docker));
        Assert.Equal(theirs.Count, ours.Count);
        var differences = Enumerable.Range(0, theirs.Count).Where(i => theirs[i] != ours[i])
            .Select(i => $"dockerd: {theirs[i]}\nberthd:  {ours[i]}").ToList();
        Assert.True(differences.Count == 0, string.Join("\n\n", differences));
    }

    /// <summary>
    /// berth cp against berthd, the same session: the same exit codes and the same trees in the container and locally
    /// as the docker CLI's (the CLI's own error sentences differ; the daemon's are compared above).
    /// </summary>
    [SkippableFact]
    public void BerthCpCopiesAsDockerCpDoes()
    {
        Skip.IfNot(File.Exists(Tools.Berth), $"berth is not published at {Tools.Berth}");
        var docker = Session(new Engine(ContainerDaemon.One, args => DockerCli.Docker(berthd.Daemon, args)), messages: false);
        var berth = Session(new Engine(ContainerDaemon.One, args => args[0] == "cp"
            ? Tools.Run(Tools.Berth, args, new Dictionary<string, string> { ["BERTH_HOST"] = berthd.Daemon.Host })
            : DockerCli.Docker(berthd.Daemon, args)), messages: false);
        var differences = Enumerable.Range(0, docker.Count).Where(i => docker[i] != berth[i])
            .Select(i => $"docker: {docker[i]}\nberth:  {berth[i]}").ToList();
        Assert.True(differences.Count == 0, string.Join("\n\n", differences));
    }

    /// <summary>One line per step: the command, its exit code and output (with <paramref name="messages"/>); then the trees it made.</summary>
    static List<string> Session(Engine engine, bool messages = true)
    {
        string name = "cp-" + Guid.NewGuid().ToString("N")[..10];
        using var local = new TempDir();
        string L(string p) => Path.Combine(local.Path, p);
        Directory.CreateDirectory(L("dir/sub"));
        File.WriteAllText(L("file"), "local file\n");
        File.WriteAllText(L("dir/a"), "a\n");
        File.WriteAllText(L("dir/sub/b"), "b\n");
        File.SetUnixFileMode(L("dir/a"), (UnixFileMode)0x1c0);
        Directory.CreateDirectory(L("out"));
        Tools.Run("chown", ["-R", "1234:4321", L("dir")]);

        var log = new List<string>();
        void Step(params string[] args)
        {
            var r = engine.Docker(args);
            string shown = string.Join(' ', args).Replace(name, "C").Replace(local.Path, "L");
            // The CLI logs its own tar writer's broken pipe when the daemon refuses early, or not: a race of the CLI's.
            string output = string.Join('\n', (r.Stdout + r.Stderr).Split('\n').Where(l => !l.StartsWith("time=", StringComparison.Ordinal)));
            log.Add($"{shown} => {r.ExitCode} {(messages ? output.Replace(name, "C").Replace(local.Path, "L").Trim() : "")}");
        }
        DockerCli.Ok(engine.Docker(["run", "--network", "none", "--name", name, engine.Image, "sh", "-c",
            "chmod 1777 /tmp; mkdir -p /data/sub /data/empty; echo hi > /data/f; echo x > /data/sub/g; ln -s /data /data/lnk; ln -s sub/g /data/rel; ln /data/f /data/hard; touch -d @1000000000 /data/f"]));
        Step("cp", L("file"), $"{name}:/tmp/");
        Step("cp", L("file"), $"{name}:/tmp/renamed");
        Step("cp", L("dir"), $"{name}:/tmp/");
        Step("cp", L("dir/."), $"{name}:/tmp/contents");
        Step("cp", L("dir") + "/", $"{name}:/data/empty");
        Step("cp", L("file"), $"{name}:/data");
        Step("cp", L("dir"), $"{name}:/data/f");
        Step("cp", L("file"), $"{name}:/data/f/");
        Step("cp", L("file"), $"{name}:/nodir/x");
        Step("cp", L("file"), $"{name}:/data/lnk");
        Step("cp", "-a", L("dir"), $"{name}:/tmp/archived");
        Step("cp", $"{name}:/nothere", L("out"));
        Step("cp", $"{name}:/data", L("out/data"));
        Step("cp", $"{name}:/data/.", L("out/contents"));
        Step("cp", $"{name}:/data/f", L("out/f"));
        Step("cp", $"{name}:/data/lnk", L("out/lnk"));
        Step("cp", "-L", $"{name}:/data/rel", L("out/followed"));
        Step("cp", $"{name}:/data/sub/", L("out"));
        Step("cp", $"{name}:/data/f", L("out/data"));
        Step("cp", $"{name}:/data", L("file"));
        Step("cp", "nosuchcontainer:/data", L("out"));
        log.Add("container /tmp: " + Listing(engine.Docker(["cp", $"{name}:/tmp", "-"])));
        log.Add("container /data: " + Listing(engine.Docker(["cp", $"{name}:/data", "-"])));
        log.Add("container /data/.: " + Listing(engine.Docker(["cp", $"{name}:/data/.", "-"])));
        log.Add("local out: " + LocalListing(L("out")));
        engine.Docker(["rm", "-f", name]);
        return log;
    }

    /// <summary>The tar's entries: name, type, mode, owner, size, link and content (mtimes only for the file that set one).</summary>
    static string Listing(ProcessResult result)
    {
        if (result.ExitCode != 0) return "exit " + result.ExitCode + " " + result.Stderr.Trim();
        var text = new StringBuilder();
        using var reader = new TarReader(new MemoryStream(Encoding.Latin1.GetBytes(result.Stdout)));
        var lines = new List<string>();
        while (reader.GetNextEntry() is { } e)
        {
            string content = e.DataStream is { } d ? new StreamReader(d).ReadToEnd().Trim() : "";
            string mtime = e.Name.EndsWith("data/f", StringComparison.Ordinal) || e.Name == "./f" ? e.ModificationTime.ToUnixTimeSeconds().ToString() : "";
            lines.Add($"{e.Name} {e.EntryType} {Convert.ToString((int)e.Mode, 8)} {e.Uid}:{e.Gid} {e.Length} {e.LinkName} {content} {mtime}");
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n  ", lines);
    }

    static string LocalListing(string root) => string.Join("\n  ", Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
        .Select(p =>
        {
            var info = new FileInfo(p);
            if (info.LinkTarget is { } t) return $"{Path.GetRelativePath(root, p)} -> {t}";
            string kind = Directory.Exists(p) ? "dir" : File.ReadAllText(p).Trim();
            return $"{Path.GetRelativePath(root, p)} {kind} {Convert.ToString((int)File.GetUnixFileMode(p), 8)}";
        }).Order(StringComparer.Ordinal));
}
