using System.Text.Json.Nodes;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Registry.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// `-v /host:/path[:mode]`, `--mount type=bind` and `--mount type=tmpfs` with the real docker CLI, against berthd and a
/// private dockerd 20.10 on this host, on the same host directories: the OCI spec's mounts (order and options), inspect's
/// Mounts and HostConfig, what the container sees and may write, and the refusals, must be the same.
/// </summary>
public sealed class BindMountComparisonTests(ContainerDaemon berthd, PrivateDockerd dockerd)
    : IClassFixture<ContainerDaemon>, IClassFixture<PrivateDockerd>
{
    sealed record Engine(string Name, string Image, Func<string[], ProcessResult> Docker, Func<string, string> SpecPath);

    Engine Berthd => new("berthd", ContainerDaemon.One, args => DockerCli.Docker(berthd.Daemon, args),
        id => Path.Combine(berthd.Daemon.ExecRoot, "containers", id, "bundle", "config.json"));

    Engine Reference => new("dockerd", "bb", dockerd.Docker,
        id => Path.Combine(dockerd.Root, "exec", "containerd", "daemon", "io.containerd.runtime.v2.task", "moby", id, "config.json"));

    /// <summary>The flags of each variant; {h} is a host directory with a file "f", {f} a host file, {n} a path that does not exist.</summary>
    static readonly string[][] Variants =
    [
        ["-v", "{h}:/data"],
        ["-v", "{h}:/data:ro", "-v", "{f}:/etc/f.txt"],
        ["-v", "{h}:/data:z,ro"],
        ["-v", "{h}/:/a/b/", "-v", "{h2}:/a", "--tmpfs", "/a/b/c"],
        ["--mount", "type=bind,src={h2},dst=/m,readonly"],
        ["--mount", "type=bind,src={h},dst=/m,bind-nonrecursive"],
        ["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=0700"],
        ["--mount", "type=tmpfs,dst=/t,tmpfs-size=1536"],
        ["-v", "{n}/made:/data"],
    ];

    /// <summary>Variants both daemons refuse at `docker run`, with the same sentence.</summary>
    static readonly string[][] Refused =
    [
        ["--mount", "type=bind,src={n}/missing,dst=/m"],
        ["-v", "{h}:/data:nocopy"],
        ["-v", "{h}:/data:bogus"],
        ["-v", "{h}:/data:ro,rw"],
        ["-v", "{h}:rw"],
        ["-v", "{h}:relative"],
        ["-v", "{h}:/data", "-v", "{h2}:/data"],
        ["--mount", "type=bind,src=relative,dst=/m"],
    ];

    [SkippableFact]
    public void BindAndTmpfsMountsAreAsDockerdMakesThem()
    {
        dockerd.SkipUnlessAvailable();
        // Host directories of each engine's own, alike: a runtime makes missing mount points in a bind's source, which the
        // other engine's run would then find there. Their paths are put back to {h}, {f}... before the comparison.
        using var theirHost = new TempDir();
        using var ourHost = new TempDir();
        var theirPaths = HostPaths(theirHost.Path, "run");
        var ourPaths = HostPaths(ourHost.Path, "run");
        foreach (var flags in Variants)
        {
            string what = string.Join(' ', flags);
            var theirs = Observe(Reference, Expand(flags, theirPaths)).Select(o => Unexpand(o, theirPaths)).ToList();
            var ours = Observe(Berthd, Expand(flags, ourPaths)).Select(o => Unexpand(o, ourPaths)).ToList();
            Assert.True(theirs.Count == ours.Count, $"{what}: dockerd gave {theirs.Count} observations, berthd {ours.Count}");
            for (int i = 0; i < theirs.Count; i++)
                Assert.True(theirs[i] == ours[i], $"{what}:\ndockerd: {theirs[i]}\nberthd:  {ours[i]}");
        }
        Assert.True(Directory.Exists(Path.Combine(ourPaths["{n}"], "made")), "-v did not make its missing source");
    }

    [SkippableFact]
    public void RefusalsSayWhatDockerdSays()
    {
        dockerd.SkipUnlessAvailable();
        using var host = new TempDir();
        var paths = HostPaths(host.Path, "refused");
        foreach (var flags in Refused)
        {
            string what = string.Join(' ', flags);
            var theirs = Reference.Docker(["run", "--rm", "--network", "none", .. Expand(flags, paths), Reference.Image, "true"]);
            var ours = Berthd.Docker(["run", "--rm", "--network", "none", .. Expand(flags, paths), Berthd.Image, "true"]);
            Assert.True(theirs.ExitCode != 0, $"dockerd ran {what}: the variant tests nothing");
            Assert.True(ours.ExitCode == theirs.ExitCode, $"{what}: dockerd exit {theirs.ExitCode}, berthd {ours.ExitCode}\n{ours}");
            Assert.Equal(DaemonError(theirs.Stderr), DaemonError(ours.Stderr));
        }
    }

    [SkippableFact]
    public void WhatBerthdDoesNotDoYetIsRefusedNotIgnored()
    {
        using var host = new TempDir();
        var paths = HostPaths(host.Path, "later");
        (string[] Flags, string Says)[] cases =
        [
            (["--mount", "type=volume,dst=/data,volume-opt=type=tmpfs"], "VolumeOptions.DriverConfig is not something Berth's local volumes do yet"),
            (["-v", "{h}:/data:rshared"], "private propagation only"),
            (["--mount", "type=bind,src={h},dst=/m,bind-propagation=rslave"], "private propagation only"),
        ];
        foreach (var (flags, says) in cases)
        {
            var r = Berthd.Docker(["run", "--rm", "--network", "none", .. Expand(flags, paths), Berthd.Image, "true"]);
            Assert.True(r.ExitCode == 125, $"{string.Join(' ', flags)} was not refused: {r}");
            Assert.Contains(says, r.Stderr);
        }
    }

    [SkippableFact]
    public void DockerCpRefusesPathsThatReachABindInsteadOfCopyingTheRootfsUnderIt()
    {
        using var host = new TempDir();
        var paths = HostPaths(host.Path, "cp");
        string name = "bind-cp-" + Guid.NewGuid().ToString("N")[..8];
        Check(Berthd.Docker(["run", "-d", "--name", name, "--network", "none", "-v", paths["{h}"] + ":/data", Berthd.Image, "sleep", "600"]));
        try
        {
            using var local = new TempDir();
            var read = Berthd.Docker(["cp", $"{name}:/data/f", local.Path]);
            Assert.True(read.ExitCode != 0, "docker cp out of a bind copied something: " + read);
            Assert.Contains("reaches the mount at /data", read.Stderr);
            File.WriteAllText(Path.Combine(local.Path, "new"), "new\n");
            var write = Berthd.Docker(["cp", Path.Combine(local.Path, "new"), $"{name}:/data/"]);
            Assert.True(write.ExitCode != 0, "docker cp into a bind wrote somewhere: " + write);
            Assert.Contains("reaches the mount at /data", write.Stderr);
            Assert.False(File.Exists(Path.Combine(paths["{h}"], "new")));
            // Elsewhere docker cp works as before.
            Check(Berthd.Docker(["cp", Path.Combine(local.Path, "new"), $"{name}:/tmp/"]));
            Assert.Equal("new", Check(Berthd.Docker(["exec", name, "cat", "/tmp/new"])).Stdout.Trim());
        }
        finally
        {
            Berthd.Docker(["rm", "-f", name]);
        }
    }

    /// <summary>{h} (a directory holding "f"), {h2} (an empty one), {f} (a file), {n} (a directory's path that does not exist yet).</summary>
    static Dictionary<string, string> HostPaths(string root, string tag)
    {
        string h = Path.Combine(root, tag + "-h"), h2 = Path.Combine(root, tag + "-h2"), f = Path.Combine(root, tag + "-file");
        Directory.CreateDirectory(h);
        Directory.CreateDirectory(h2);
        File.WriteAllText(Path.Combine(h, "f"), "from the host\n");
        File.WriteAllText(f, "host file\n");
        return new() { ["{h2}"] = h2, ["{h}"] = h, ["{f}"] = f, ["{n}"] = Path.Combine(root, tag + "-new") };
    }

    static string[] Expand(string[] flags, Dictionary<string, string> paths) =>
        [.. flags.Select(flag => paths.Aggregate(flag, (text, p) => text.Replace(p.Key, p.Value)))];

    /// <summary>The placeholders back in place of the paths ({h2} before {h}: the one's path begins with the other's).</summary>
    static string Unexpand(string text, Dictionary<string, string> paths) =>
        paths.Aggregate(text, (t, p) => t.Replace(p.Value, p.Key));

    /// <summary>
    /// A running container of the variant, seen from outside (its spec's mounts from the first user one on, the /etc files'
    /// sources cut to their names; inspect's Mounts by destination; HostConfig's Binds and Mounts) and from inside (what
    /// /data and /m hold, whether a write there works, and each mount's line in /proc/mounts minus its source).
    /// </summary>
    static List<string> Observe(Engine engine, string[] flags)
    {
        string name = "bind-" + engine.Name + "-" + Guid.NewGuid().ToString("N")[..8];
        string id = Check(engine.Docker(["run", "-d", "--name", name, "--network", "none", .. flags, engine.Image, "sleep", "600"])).Stdout.Trim();
        try
        {
            var observed = new List<string>();
            var spec = JsonNode.Parse(File.ReadAllText(engine.SpecPath(id)))!;
            var mounts = spec["mounts"]!.AsArray().Select(m => m!.AsObject()).ToList();
            int firstUser = mounts.FindIndex(m => (string)m["destination"]! is not ("/proc" or "/dev" or "/dev/pts" or "/sys" or "/sys/fs/cgroup" or "/dev/mqueue" or "/dev/shm"));
            foreach (var m in mounts.Skip(firstUser))
            {
                string source = (string)m["source"]!;
                if ((string)m["destination"]! is "/etc/resolv.conf" or "/etc/hostname" or "/etc/hosts") source = Path.GetFileName(source);
                observed.Add($"spec {(string)m["destination"]!} {(string)m["type"]!} {source} [{string.Join(',', m["options"]!.AsArray().Select(o => (string)o!))}]");
            }
            var inspect = JsonNode.Parse(Check(engine.Docker(["inspect", name])).Stdout)!.AsArray()[0]!;
            foreach (var m in inspect["Mounts"]!.AsArray().OrderBy(m => (string)m!["Destination"]!, StringComparer.Ordinal))
                observed.Add("inspect " + m!.ToJsonString());
            // The docker CLI sends -v's binds in the order of a Go map's walk: compared as a set.
            var binds = inspect["HostConfig"]!["Binds"]?.AsArray().Select(b => (string)b!).Order(StringComparer.Ordinal);
            observed.Add("HostConfig.Binds " + (binds is null ? "null" : string.Join(' ', binds)));
            observed.Add("HostConfig.Mounts " + inspect["HostConfig"]!["Mounts"]?.ToJsonString());
            string script = "for d in /data /m /a /a/b /t; do [ -d $d ] || continue; echo \"$d: $(ls $d | tr '\\n' ' ')\"; " +
                "if touch $d/written 2>/dev/null; then echo \"$d writable\"; rm -f $d/written; else echo \"$d read-only\"; fi; done; " +
                "grep -E ' /(data|m|a|a/b|a/b/c|t|etc/f.txt) ' /proc/mounts | cut -d' ' -f2-";
            observed.Add("inside " + Check(engine.Docker(["exec", name, "sh", "-c", script])).Stdout.Trim().Replace('\n', '|'));
            return observed;
        }
        finally
        {
            engine.Docker(["rm", "-f", name]);
        }
    }

    /// <summary>The daemon's sentence from the CLI's "docker: Error response from daemon: ..." line.</summary>
    static string DaemonError(string stderr) =>
        stderr.Split('\n').FirstOrDefault(l => l.Contains("Error response from daemon:", StringComparison.Ordinal))?.Trim() ?? stderr.Trim();

    static ProcessResult Check(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return r;
    }
}
