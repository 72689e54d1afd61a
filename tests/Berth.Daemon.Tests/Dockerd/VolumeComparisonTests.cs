using System.Text.Json.Nodes;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// Named volumes with the real docker CLI against berthd and a private dockerd 20.10, on the same image (dockerd's "bb",
/// loaded into berthd too): `docker volume create/inspect/ls/rm/prune` and their refusals, and containers that use them
/// (-v name:/path[:ro], --mount type=volume with nocopy, the copy of the image's files into a new volume, data kept from
/// one container to the next), and anonymous volumes (-v /path, --mount without source, an image's VOLUME, rm -v, run --rm,
/// prune). Paths, ids, times and random volume names are put in words before the comparison.
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
        Compare(Session);
    }

    [SkippableFact]
    public void AnonymousVolumesAreMadeFilledAndRemovedAsDockerdDoes()
    {
        dockerd.SkipUnlessAvailable();
        string archive = VolumeImageArchive(Path.Combine(dockerd.Root, "image"));
        PrivateDockerd.Check(dockerd.Docker("load", "-i", archive));
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "load", "-i", archive));
        DockerCli.Ok(DockerCli.Docker(berthd.Daemon, "load", "-i", Path.Combine(dockerd.Root, "image", "bb.tar")));
        Compare(AnonymousSession);
    }

    /// <summary>Runs <paramref name="session"/> on dockerd, then on berthd, and compares the lines one by one.</summary>
    void Compare(Func<Engine, string, List<string>> session)
    {
        string tag = Guid.NewGuid().ToString("N")[..8];
        var theirs = session(Reference, tag);
        var ours = session(Berthd, tag);
        foreach (string line in ours) output.WriteLine(line);
        Assert.Equal(theirs.Count, ours.Count);
        var differences = Enumerable.Range(0, theirs.Count).Where(i => theirs[i] != ours[i])
            .Select(i => $"dockerd: {theirs[i]}\nberthd:  {ours[i]}").ToList();
        Assert.True(differences.Count == 0, string.Join("\n\n", differences));
    }

    /// <summary>"bbvol": bb with a second layer holding /vol/hello and /vol/sub/, and VOLUME /vol in its config.</summary>
    static string VolumeImageArchive(string imageDir)
    {
        const string script = """
            set -e; cd "$1"; rm -rf vx vl; mkdir -p vx vl/vol/sub; tar -C vx -xf bb.tar
            echo hello > vl/vol/hello; chmod 0644 vl/vol/hello; chmod 0750 vl/vol/sub
            tar --numeric-owner --owner=0 --group=0 -C vl -cf layer.tar .; L2=$(sha256sum layer.tar | cut -d' ' -f1); mkdir -p vx/$L2; mv layer.tar vx/$L2/
            L=$(sed 's/.*"Layers":\["\([0-9a-f]*\)\/layer.tar.*/\1/' vx/manifest.json); rm vx/manifest.json
            C='{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"Volumes":{"/vol":{}}},"rootfs":{"type":"layers","diff_ids":["sha256:'$L'","sha256:'$L2'"]}}'
            D=$(printf '%s' "$C" | sha256sum | cut -d' ' -f1); printf '%s' "$C" > vx/$D.json
            printf '[{"Config":"%s.json","RepoTags":["bbvol:latest"],"Layers":["%s/layer.tar","%s/layer.tar"]}]' $D $L $L2 > vx/manifest.json
            tar -C vx -cf bbvol.tar .
            """;
        PrivateDockerd.Check(Tools.Run("sh", ["-c", script, "sh", imageDir]));
        return Path.Combine(imageDir, "bbvol.tar");
    }

    /// <summary>
    /// -v /path, --mount type=volume without source, Config.Volumes from an image's VOLUME (covered or not by the
    /// container's own mounts), nocopy, inspect's Mounts, volume ls, rm with and without -v, run --rm and prune. Each
    /// random volume name becomes &lt;container:destination&gt; once seen in an inspect.
    /// </summary>
    static List<string> AnonymousSession(Engine engine, string tag)
    {
        string named = "cav-" + tag;
        string[] names = ["ca-v-" + tag, "ca-img-" + tag, "ca-mnt-" + tag, "ca-named-" + tag, "ca-nocopy-" + tag];
        var ids = new List<string>();
        var anonymous = new Dictionary<string, string>(); // random name → its words
        var log = new List<string>();
        string Words(string text)
        {
            foreach (var (name, words) in anonymous) text = text.Replace(name, words);
            foreach (var id in ids) text = text.Replace(id, "<id>");
            return text.Replace(engine.VolumesRoot, "<volumes>").Replace(tag, "T");
        }
        ProcessResult Step(params string[] args)
        {
            var r = engine.Docker(args);
            string output = string.Join('\n', (r.Stdout + r.Stderr).Split('\n').Where(l => !l.StartsWith("time=", StringComparison.Ordinal)));
            log.Add($"{Words(string.Join(' ', args))} => {r.ExitCode} {Words(output).Trim()}");
            return r;
        }
        void Create(string name, string image, params string[] args)
        {
            var r = engine.Docker(["create", "--name", name, "--network", "none", .. args, image, "sleep", "600"]);
            Assert.True(r.ExitCode == 0, $"{engine.Name}: {r}");
            ids.Add(r.Stdout.Trim());
            var container = JsonNode.Parse(engine.Docker(["inspect", name]).Stdout)!.AsArray()[0]!;
            foreach (var mount in container["Mounts"]!.AsArray())
                if ((string?)mount!["Name"] is { Length: 64 } volume) anonymous[volume] = $"<{name.Replace(tag, "T")}:{(string)mount["Destination"]!}>";
            log.Add($"{name.Replace(tag, "T")} mounts {Words(container["Mounts"]!.ToJsonString())} volumes {container["Config"]!["Volumes"]?.ToJsonString()}");
        }
        // The anonymous volumes the engine lists, in words, sorted (their random names sort differently on each engine).
        string Listed() => "volumes: " + string.Join(' ', engine.Docker(["volume", "ls", "-q"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(v => v.Length == 64 || v.Contains(tag, StringComparison.Ordinal)).Select(v => anonymous.ContainsKey(v) || v.Contains(tag, StringComparison.Ordinal) ? Words(v) : "<unknown>")
            .Order(StringComparer.Ordinal));
        string Holds(string volume) => string.Join(' ', new DirectoryInfo(Path.Combine(engine.VolumesRoot, volume, "_data")).GetFileSystemInfos()
            .OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => $"{f.Name}:{f.UnixFileMode}"));
        try
        {
            Create(names[0], "bb", "-v", "/data");
            Create(names[1], "bbvol");
            Create(names[2], "bb", "--mount", "type=volume,dst=/x");
            Create(names[3], "bbvol", "-v", named + ":/vol");
            Create(names[4], "bbvol", "--mount", "type=volume,dst=/vol,volume-nocopy");
            Step("create", "--network", "none", "--mount", "type=volume,dst=/x,readonly", "bb");
            log.Add(Listed());
            foreach (string name in names) Step("start", name);
            Step("exec", names[1], "cat", "/vol/hello");
            Step("exec", names[0], "sh", "-c", "echo x > /data/f && ls /data");
            foreach (var (volume, words) in anonymous.OrderBy(a => a.Value, StringComparer.Ordinal)) log.Add($"{words} holds {Holds(volume)}");
            log.Add($"{named} holds {Holds(named)}".Replace(tag, "T"));
            var spec = JsonNode.Parse(File.ReadAllText(engine.SpecPath(ids[1])))!["mounts"]!.AsArray()
                .Where(m => ((string)m!["source"]!).StartsWith(engine.VolumesRoot, StringComparison.Ordinal));
            log.Add("spec " + Words(string.Join(' ', spec.Select(m => m!.ToJsonString()))));
            Step("rm", "-f", names[0]);
            log.Add(Listed());
            Step("rm", "-f", "-v", names[1], names[2], names[3], names[4]);
            log.Add(Listed());
            Step("run", "--rm", "--network", "none", "-v", "/data", "bbvol", "sh", "-c", "echo x > /data/f; cat /vol/hello");
            log.Add(Listed());
            var pruned = engine.Docker(["volume", "prune", "-f"]);
            log.Add($"prune => {pruned.ExitCode} " + string.Join(' ', pruned.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Words).Order(StringComparer.Ordinal)));
            log.Add(Listed());
            return log;
        }
        finally
        {
            engine.Docker(["rm", "-f", "-v", .. names]);
            engine.Docker(["volume", "rm", "-f", named, .. anonymous.Keys]);
        }
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
