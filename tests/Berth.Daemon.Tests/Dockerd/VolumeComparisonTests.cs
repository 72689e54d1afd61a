using System.Text.Json.Nodes;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// Named volumes with the real docker CLI against berthd and a private dockerd 20.10, on the same image (dockerd's "bb",
/// loaded into berthd too): `docker volume create/inspect/ls/rm/prune` and their refusals, and containers that use them
/// (-v name:/path[:ro], --mount type=volume with nocopy, the copy of the image's files into a new volume, data kept from
/// one container to the next). Paths, ids and times are put in words before the comparison.
/// </summary>
public sealed class VolumeComparisonTests(ContainerDaemon berthd, PrivateDockerd dockerd, Xunit.Abstractions.ITestOutputHelper output)
    : IClassFixture<ContainerDaemon>, IClassFixture<PrivateDockerd>
{
    sealed record Engine(string Name, Func<string[], ProcessResult> Docker, string VolumesRoot, Func<string, string> SpecPath);

    Engine Berthd => new("berthd", args => DockerCli.Docker(berthd.Daemon, args), Path.Combine(berthd.Daemon.DataRoot, "volumes"),
        id => Path.Combine(berthd.Daemon.ExecRoot, "containers", id, "bundle", "config.json"));

    Engine Reference => new("dockerd", dockerd.Docker, Path.Combine(dockerd.Root, "data", "volumes"),
        id => Path.Combine(dockerd.Root, "exec", "containerd", "daemon", "io.containerd.runtime.v2.task", "moby", id, "config.json"));

    [SkippableFact]
    public void VolumesAreManagedAndUsedAsDockerdDoes()
    {
        dockerd.SkipUnlessAvailable();
        // The same image on both: the copy into a new volume is then the same files.
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "load", "-i", Path.Combine(dockerd.Root, "image", "bb.tar")));
        string tag = Guid.NewGuid().ToString("N")[..8];
        var theirs = Session(Reference, tag);
        var ours = Session(Berthd, tag);
        foreach (string line in ours) output.WriteLine(line);
        Assert.Equal(theirs.Count, ours.Count);
        var differences = Enumerable.Range(0, theirs.Count).Where(i => theirs[i] != ours[i])
            .Select(i => $"dockerd: {theirs[i]}\nberthd:  {ours[i]}").ToList();
        Assert.True(differences.Count == 0, string.Join("\n\n", differences));
    }

    /// <summary>One line per step: what the CLI printed and its exit code, or what the step observed.</summary>
    static List<string> Session(Engine engine, string tag)
    {
        string v1 = "cv1-" + tag, v2 = "cv2-" + tag, v3 = "cv3-" + tag, v4 = "cv4-" + tag;
        var containers = new List<string>();
        var log = new List<string>();
        string Words(string text) => text.Replace(engine.VolumesRoot, "<volumes>").Replace(tag, "T");
        ProcessResult Step(params string[] args)
        {
            var r = engine.Docker(args);
            string output = string.Join('\n', (r.Stdout + r.Stderr).Split('\n').Where(l => !l.StartsWith("time=", StringComparison.Ordinal)));
            foreach (var id in containers) output = output.Replace(id, "<id>");
            log.Add($"{Words(string.Join(' ', args))} => {r.ExitCode} {Words(output).Trim()}");
            return r;
        }
        string Run(string name, params string[] args)
        {
            var r = engine.Docker(["run", "-d", "--name", name, "--network", "none", .. args, "bb", "sleep", "600"]);
            Assert.True(r.ExitCode == 0, $"{engine.Name}: {r}");
            containers.Add(r.Stdout.Trim());
            return r.Stdout.Trim();
        }
        try
        {
            Step("volume", "create", "--label", "team=a", v1);
            var inspect = JsonNode.Parse(engine.Docker(["volume", "inspect", v1]).Stdout)!.AsArray()[0]!.AsObject();
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string)inspect["CreatedAt"]!);
            inspect.Remove("CreatedAt");
            log.Add("inspect " + Words(inspect.ToJsonString()));
            Step("volume", "create", v1); // a second create answers the existing volume
            Step("volume", "create", "x!");
            Step("volume", "create", "a");
            Step("volume", "create", "--driver", "nosuchdriver", "cv-driver-" + tag);
            Step("volume", "inspect", "cv-none-" + tag);
            Step("volume", "rm", "cv-none-" + tag);
            Step("volume", "rm", "-f", "cv-none-" + tag);

            string c1 = Run("cv-ro-" + tag, "-v", v1 + ":/data:ro");
            string c2 = Run("cv-nocopy-" + tag, "--mount", $"type=volume,src={v2},dst=/etc,volume-nocopy");
            string c3 = Run("cv-copy-" + tag, "-v", v3 + ":/bin");
            foreach (string id in new[] { c1, c2, c3 })
            {
                var spec = JsonNode.Parse(File.ReadAllText(engine.SpecPath(id)))!["mounts"]!.AsArray()
                    .Where(m => ((string)m!["source"]!).StartsWith(engine.VolumesRoot, StringComparison.Ordinal));
                log.Add("spec " + Words(string.Join(' ', spec.Select(m => m!.ToJsonString()))));
                log.Add("mounts " + Words(JsonNode.Parse(engine.Docker(["inspect", id]).Stdout)!.AsArray()[0]!["Mounts"]!.ToJsonString()));
            }
            Step("exec", "cv-ro-" + tag, "sh", "-c", "touch /data/x");
            log.Add("nocopy volume holds: " + string.Join(' ', Directory.GetFileSystemEntries(Path.Combine(engine.VolumesRoot, v2, "_data")).Select(Path.GetFileName).Order()));
            log.Add("copied volume holds: " + string.Join(' ', new DirectoryInfo(Path.Combine(engine.VolumesRoot, v3, "_data")).GetFileSystemInfos()
                .OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => $"{f.Name}:{f.UnixFileMode}:{f.LinkTarget}")));
            Step("volume", "rm", v1);
            Step("volume", "ls", "-q", "--filter", "name=" + tag);
            Step("volume", "ls", "-q", "--filter", "name=" + tag, "--filter", "dangling=true");
            Step("volume", "ls", "-q", "--filter", "label=team=a");

            Step("run", "--rm", "--network", "none", "-v", v4 + ":/x", "bb", "sh", "-c", "echo kept > /x/f");
            Step("run", "--rm", "--network", "none", "-v", v4 + ":/y:ro", "bb", "cat", "/y/f");
            Step("rm", "-f", "cv-ro-" + tag, "cv-nocopy-" + tag, "cv-copy-" + tag);
            Step("volume", "rm", v1, v2, v3, v4);
            Step("volume", "ls", "-q", "--filter", "name=" + tag);
            return log;
        }
        finally
        {
            engine.Docker(["rm", "-f", "cv-ro-" + tag, "cv-nocopy-" + tag, "cv-copy-" + tag]);
            engine.Docker(["volume", "rm", "-f", v1, v2, v3, v4]);
        }
    }
}
