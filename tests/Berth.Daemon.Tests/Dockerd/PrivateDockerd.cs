using System.Diagnostics;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests.Dockerd;

/// <summary>
/// A dockerd of the test's own, to compare berthd's pieces with: data root, exec root, socket and pid file in a temp
/// directory, no bridge and no firewall changes, its own cgroup parent; a one-layer busybox image "bb" loaded from a
/// docker archive made of the host's busybox-static. Unavailable (with the reason) when not root or dockerd is missing.
/// </summary>
public class PrivateDockerd : IDisposable
{
    readonly Process? _dockerd;

    public PrivateDockerd() : this(null, []) { }

    /// <summary>A dockerd in the network namespace kept at <paramref name="netns"/> (nsenter --net), with more flags.</summary>
    protected PrivateDockerd(string? netns, string[] extraArgs)
    {
        if (!Tools.IsRoot) { Unavailable = "needs root (dockerd)"; return; }
        foreach (var tool in new[] { "dockerd", "docker", "containerd", "runc", "tar" })
            if (Tools.Which(tool) is null) { Unavailable = $"{tool} is not installed (apt-get install docker.io)"; return; }
        if (!File.Exists("/bin/busybox")) { Unavailable = "/bin/busybox is missing (apt-get install busybox-static)"; return; }
        Root = Directory.CreateTempSubdirectory("berth-dockerd-").FullName;
        CgroupParent = "/" + Path.GetFileName(Root);
        File.WriteAllText(Path.Combine(Root, "daemon.json"), "{}");
        var start = new ProcessStartInfo(netns is null ? "dockerd" : "nsenter") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[.. netns is null ? [] : (string[])["--net=" + netns, "--", "dockerd"], .. extraArgs,
            "--config-file", Path.Combine(Root, "daemon.json"), "--data-root", Path.Combine(Root, "data"), "--exec-root", Path.Combine(Root, "exec"),
            "-H", "unix://" + Socket, "--pidfile", Path.Combine(Root, "dockerd.pid"), "--cgroup-parent", CgroupParent,
            "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"])
            start.ArgumentList.Add(a);
        _dockerd = Process.Start(start)!;
        _dockerd.OutputDataReceived += (_, _) => { };
        _dockerd.ErrorDataReceived += (_, _) => { };
        _dockerd.BeginOutputReadLine();
        _dockerd.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!(File.Exists(Socket) && Docker("version").ExitCode == 0))
        {
            if (_dockerd.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"the private dockerd did not answer within 90 s (exited: {_dockerd.HasExited})");
            Thread.Sleep(200);
        }
        Check(Docker("load", "--input", BusyboxArchive()));
    }

    /// <summary>Why the comparisons cannot run here; null when they can.</summary>
    public string? Unavailable { get; }
    public string Root { get; } = "";
    public string CgroupParent { get; } = "";
    public string Socket => Path.Combine(Root, "d.sock");

    public ProcessResult Docker(params string[] args) =>
        Tools.Run("docker", ["-H", "unix://" + Socket, .. args], new Dictionary<string, string> { ["DOCKER_CONFIG"] = Path.Combine(Root, "cli") }, timeoutSeconds: 120);

    public static ProcessResult Check(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    /// <summary>The body of GET <paramref name="path"/> on the dockerd's socket.</summary>
    public string Get(string path) => Check(Tools.Curl(Socket, "http://dockerd/v1.41" + path)).Stdout;

    public void SkipUnlessAvailable() => Skip.If(Unavailable is not null, Unavailable);

    string BusyboxArchive()
    {
        var dir = Directory.CreateDirectory(Path.Combine(Root, "image")).FullName;
        const string script = """
            set -e; cd "$1"; mkdir -p rootfs/bin rootfs/dev rootfs/proc rootfs/sys rootfs/tmp rootfs/etc archive
            cp /bin/busybox rootfs/bin/; for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "rootfs/bin/$a"; done
            echo 'root:x:0:0:root:/root:/bin/sh' > rootfs/etc/passwd; chmod 1777 rootfs/tmp
            tar --numeric-owner --owner=0 --group=0 -C rootfs -cf layer.tar .; L=$(sha256sum layer.tar | cut -d' ' -f1); mkdir archive/$L; mv layer.tar archive/$L/
            C='{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:'$L'"]}}'
            D=$(printf '%s' "$C" | sha256sum | cut -d' ' -f1); printf '%s' "$C" > archive/$D.json
            printf '[{"Config":"%s.json","RepoTags":["bb:latest"],"Layers":["%s/layer.tar"]}]' $D $L > archive/manifest.json
            tar -C archive -cf bb.tar .
            """;
        Check(Tools.Run("sh", ["-c", script, "sh", dir]));
        return Path.Combine(dir, "bb.tar");
    }

    public virtual void Dispose()
    {
        GC.SuppressFinalize(this);
        if (_dockerd is null) return;
        try
        {
            var all = Docker("ps", "-aq").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (all.Length > 0) Docker(["rm", "-f", .. all]);
        }
        finally
        {
            if (!_dockerd.HasExited)
            {
                Tools.Run("kill", ["-TERM", _dockerd.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                if (!_dockerd.WaitForExit(30_000)) _dockerd.Kill();
            }
            // dockerd stops the containerd it started; one that outlived it is found by its pid file under our exec root.
            var containerdPid = Path.Combine(Root, "exec", "containerd", "containerd.pid");
            if (File.Exists(containerdPid) && int.TryParse(File.ReadAllText(containerdPid).Trim(), out int pid) && Directory.Exists($"/proc/{pid}")
                && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Root, StringComparison.Ordinal))
                Tools.Run("kill", ["-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            _dockerd.Dispose();
            foreach (var controller in Directory.GetDirectories("/sys/fs/cgroup"))
                if (Directory.Exists(controller + CgroupParent))
                    try { Directory.Delete(controller + CgroupParent); } catch (IOException) { }
            Tools.Run("umount", ["-R", "-l", Path.Combine(Root, "exec")]);
            Tools.Run("umount", ["-R", "-l", Path.Combine(Root, "data")]);
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
