using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Registry.Tests.Infrastructure;
using Berth.Snapshots;
using Berth.Snapshots.RootTests;
using DaemonTools = Berth.Daemon.Tests.Infrastructure.Tools;

namespace Berth.Daemon.Tests;

/// <summary>
/// A real docker-registry on 127.0.0.1 holding a two-layer busybox-static image that skopeo copied from an OCI
/// layout written here (so no Berth code put it there), shared by the tests of this class.
/// </summary>
public sealed class RegistryWithImage : IDisposable
{
    public const string Repository = "test/busybox";
    public const string Tag = "v1";

    readonly Lazy<RegistryProcess> _registry = new(() => new RegistryProcess());
    readonly TempDir _dir = new("berth-daemon-image-");

    public RegistryWithImage()
    {
        Layers = [Layer.Gzip(BusyboxLayer()), Layer.Gzip(new TarBuilder()
            .Dir("etc/")
            .File("etc/.wh.gone", "")
            .File("etc/hostname", "berth-test\n", 0x180, 1000, 1000)
            .Build())];
        LayoutPath = Path.Combine(_dir.Path, "layout");
        new OciLayout(LayoutPath).AddImage(Tag, Layers);
    }

    public RegistryProcess Registry => _registry.Value;

    /// <summary>The image's layers, bottom first; their DiffIds are the config's diff_ids.</summary>
    internal IReadOnlyList<Layer> Layers { get; }

    public string LayoutPath { get; }

    public string Reference => $"{Registry.Domain}/{Repository}:{Tag}";

    public string ScratchPath => _dir.Path;

    bool _pushed;

    /// <summary>Copies the layout into the registry with skopeo (once).</summary>
    public void EnsurePushed()
    {
        lock (this)
        {
            if (_pushed) return;
            Skip.If(DaemonTools.Which("skopeo") is null, "skopeo is not installed (apt-get install skopeo)");
            var copy = DaemonTools.Run("skopeo", ["copy", "--dest-tls-verify=false", $"oci:{LayoutPath}:{Tag}", $"docker://{Reference}"]);
            Assert.True(copy.ExitCode == 0, copy.ToString());
            _pushed = true;
        }
    }

    /// <summary>skopeo's view of a repository tag: the raw manifest bytes.</summary>
    public byte[] RawManifest(string reference)
    {
        var result = DaemonTools.Run("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{reference}"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return Encoding.UTF8.GetBytes(result.Stdout);
    }

    static byte[] BusyboxLayer()
    {
        string busybox = "/bin/busybox";
        Skip.IfNot(File.Exists(busybox), "busybox-static is not installed (apt-get install busybox-static)");
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var mtime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/") { Mode = (UnixFileMode)0x1ed, ModificationTime = mtime });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox")
            {
                Mode = (UnixFileMode)0x1ed,
                ModificationTime = mtime,
                DataStream = new MemoryStream(File.ReadAllBytes(busybox)),
            });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/sh") { LinkName = "busybox", ModificationTime = mtime });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/") { Mode = (UnixFileMode)0x1ed, ModificationTime = mtime });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/gone")
            {
                Mode = (UnixFileMode)0x1a4,
                ModificationTime = mtime,
                DataStream = new MemoryStream("removed by layer 2\n"u8.ToArray()),
            });
        }
        return tar.ToArray();
    }

    public void Dispose()
    {
        if (_registry.IsValueCreated) _registry.Value.Dispose();
        _dir.Dispose();
    }
}

/// <summary>Pull, images, inspect, tag, push, rmi, save and load through berthd with the real docker CLI and with berth.</summary>
public class ImageEndToEndTests(RegistryWithImage image) : IClassFixture<RegistryWithImage>
{
    const string RootReason = "berthd tests run as root (integration section of scripts/test.sh)";

    static ProcessResult Docker(DaemonInstance daemon, params string[] args) => DockerCli.Docker(daemon, args);

    static ProcessResult Ok(ProcessResult result) => DockerCli.Ok(result);

    static string Sha256(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    static IReadOnlyList<string> ChainIds(IEnumerable<string> diffIds)
    {
        var chain = new List<string>();
        string? parent = null;
        foreach (var d in diffIds) chain.Add(parent = LayerDigests.ChainId(parent, d));
        return chain;
    }

    /// <summary>
    /// What a layer adds to an image's size as docker counts it, read from its tar: the bytes of its files and the
    /// length of its symlinks' targets; directories, hardlinks (counted at their first name), whiteouts and device
    /// nodes add nothing.
    /// </summary>
    static long UnpackedSize(byte[] tar)
    {
        using var reader = new System.Formats.Tar.TarReader(new MemoryStream(tar));
        long size = 0;
        while (reader.GetNextEntry() is { } entry)
        {
            if (Path.GetFileName(entry.Name.TrimEnd('/')).StartsWith(".wh.", StringComparison.Ordinal)) continue;
            size += entry.EntryType switch
            {
                System.Formats.Tar.TarEntryType.RegularFile or System.Formats.Tar.TarEntryType.V7RegularFile => entry.Length,
                System.Formats.Tar.TarEntryType.SymbolicLink => System.Text.Encoding.UTF8.GetByteCount(entry.LinkName),
                _ => 0,
            };
        }
        return size;
    }

    static string[] SnapshotLayers(DaemonInstance daemon)
    {
        var dir = Path.Combine(daemon.DataRoot, "snapshots", "layers");
        return Directory.Exists(dir) ? [.. Directory.GetDirectories(dir).Select(d => "sha256:" + Path.GetFileName(d)).Order()] : [];
    }

    static string[] Blobs(DaemonInstance daemon) =>
        [.. Directory.EnumerateFiles(Path.Combine(daemon.DataRoot, "image", "content"), "*", SearchOption.AllDirectories)];

    [SkippableFact]
    public void Docker_cli_pulls_inspects_tags_pushes_removes_saves_and_loads()
    {
        Skip.IfNot(DaemonTools.IsRoot, RootReason);
        image.EnsurePushed();
        using var daemon = DaemonInstance.Start();
        string reference = image.Reference;
        var manifestBytes = image.RawManifest(reference);
        using var manifest = JsonDocument.Parse(manifestBytes);
        string configDigest = manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!;
        string[] layerDigests = [.. manifest.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()!)];
        string[] diffIds = [.. image.Layers.Select(l => l.DiffId)];

        // pull: dockerd's progress lines, exit 0.
        var pull = Ok(Docker(daemon, "pull", reference));
        Assert.Contains($"{RegistryWithImage.Tag}: Pulling from {RegistryWithImage.Repository}", pull.Stdout);
        foreach (var layer in layerDigests) Assert.Contains($"{layer[7..19]}: Pull complete", pull.Stdout);
        Assert.Contains($"Digest: {Sha256(manifestBytes)}", pull.Stdout);
        Assert.Contains($"Status: Downloaded newer image for {reference}", pull.Stdout);
        Assert.EndsWith($"{reference}\n", pull.Stdout);
        // Each layer unpacked once into its chain's snapshot.
        Assert.Equal(ChainIds(diffIds).Order(), SnapshotLayers(daemon));

        // A second pull finds everything there.
        var again = Ok(Docker(daemon, "pull", reference));
        Assert.Contains($"Status: Image is up to date for {reference}", again.Stdout);

        // images and inspect.
        var images = Ok(Docker(daemon, "images"));
        Assert.Matches($@"\n{Regex.Escape(image.Registry.Domain + "/" + RegistryWithImage.Repository)}\s+{RegistryWithImage.Tag}\s+{configDigest[7..19]}\s", images.Stdout);
        var inspect = Ok(Docker(daemon, "image", "inspect", reference));
        using (var doc = JsonDocument.Parse(inspect.Stdout))
        {
            var root = doc.RootElement[0];
            Assert.Equal(configDigest, root.GetProperty("Id").GetString());
            Assert.Equal([reference], root.GetProperty("RepoTags").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal([$"{image.Registry.Domain}/{RegistryWithImage.Repository}@{Sha256(manifestBytes)}"],
                root.GetProperty("RepoDigests").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(diffIds, root.GetProperty("RootFS").GetProperty("Layers").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("layers", root.GetProperty("RootFS").GetProperty("Type").GetString());
            Assert.Equal("linux", root.GetProperty("Os").GetString());
            Assert.Equal("amd64", root.GetProperty("Architecture").GetString());
            Assert.Equal(["/bin/sh"], root.GetProperty("Config").GetProperty("Cmd").EnumerateArray().Select(e => e.GetString()));
            // dockerd's size is the unpacked one, not the compressed blobs'.
            Assert.Equal(image.Layers.Sum(l => UnpackedSize(l.Tar)), root.GetProperty("Size").GetInt64());
            Assert.NotEqual(image.Layers.Sum(l => (long)l.Blob.Length), root.GetProperty("Size").GetInt64());
        }
        var history = Ok(Docker(daemon, "history", "--no-trunc", reference));
        Assert.Contains(configDigest, history.Stdout);
        Assert.Equal(2, Regex.Matches(history.Stdout, "berth test").Count);

        // tag, then push under another repository: skopeo sees the same layers.
        string copy = $"{image.Registry.Domain}/other/copy:v2";
        Ok(Docker(daemon, "tag", reference, copy));
        Assert.Contains("other/copy", Ok(Docker(daemon, "images")).Stdout);
        var push = Ok(Docker(daemon, "push", copy));
        Assert.Contains($"The push refers to repository [{image.Registry.Domain}/other/copy]", push.Stdout);
        Assert.Matches(@"v2: digest: sha256:[0-9a-f]{64} size: \d+", push.Stdout);
        using (var pushed = JsonDocument.Parse(image.RawManifest(copy)))
        {
            Assert.Equal(layerDigests, pushed.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()));
            Assert.Equal(configDigest, pushed.RootElement.GetProperty("config").GetProperty("digest").GetString());
        }
        var skopeoInspect = DaemonTools.Run("skopeo", ["inspect", "--tls-verify=false", $"docker://{copy}"]);
        Assert.True(skopeoInspect.ExitCode == 0, skopeoInspect.ToString());
        using (var info = JsonDocument.Parse(skopeoInspect.Stdout))
            Assert.Equal(layerDigests, info.RootElement.GetProperty("Layers").EnumerateArray().Select(e => e.GetString()));

        // save, then rmi both names: untagged, deleted, blobs and snapshots freed.
        string archive = Path.Combine(daemon.Root, "saved.tar");
        Ok(Docker(daemon, "save", "-o", archive, reference));
        Assert.True(new FileInfo(archive).Length > image.Layers.Sum(l => l.Blob.Length));
        var rmiCopy = Ok(Docker(daemon, "rmi", copy));
        Assert.Contains($"Untagged: {copy}", rmiCopy.Stdout);
        Assert.DoesNotContain("Deleted:", rmiCopy.Stdout);
        var rmi = Ok(Docker(daemon, "rmi", reference));
        Assert.Contains($"Untagged: {reference}", rmi.Stdout);
        Assert.Contains($"Untagged: {image.Registry.Domain}/{RegistryWithImage.Repository}@{Sha256(manifestBytes)}", rmi.Stdout);
        Assert.Contains($"Deleted: {configDigest}", rmi.Stdout);
        Assert.Empty(Blobs(daemon));
        Assert.Empty(SnapshotLayers(daemon));
        Assert.Equal("", Ok(Docker(daemon, "images", "-q")).Stdout.Trim());

        // load the saved tar: the same image, snapshots back.
        var load = Ok(Docker(daemon, "load", "-i", archive));
        Assert.Contains($"Loaded image: {reference}", load.Stdout);
        using (var doc = JsonDocument.Parse(Ok(Docker(daemon, "image", "inspect", reference)).Stdout))
        {
            Assert.Equal(configDigest, doc.RootElement[0].GetProperty("Id").GetString());
            Assert.Equal(diffIds, doc.RootElement[0].GetProperty("RootFS").GetProperty("Layers").EnumerateArray().Select(e => e.GetString()));
        }
        Assert.Equal(ChainIds(diffIds).Order(), SnapshotLayers(daemon));

        // Unknown images and manifests: dockerd's messages, exit 1.
        var missing = Docker(daemon, "image", "inspect", "nope:latest");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("Error response from daemon: No such image: nope:latest", missing.Stderr);
        var rmiMissing = Docker(daemon, "rmi", "nope");
        Assert.Equal(1, rmiMissing.ExitCode);
        Assert.Contains("Error response from daemon: No such image: nope", rmiMissing.Stderr);
        var pullMissing = Docker(daemon, "pull", $"{image.Registry.Domain}/absent:latest");
        Assert.Equal(1, pullMissing.ExitCode);
        Assert.Contains("Error response from daemon: ", pullMissing.Stderr);
        Assert.Contains("manifest unknown", pullMissing.Stderr);
        var pushMissing = Docker(daemon, "push", $"{image.Registry.Domain}/absent:latest");
        Assert.Equal(1, pushMissing.ExitCode);
        Assert.Contains("An image does not exist locally with the tag", pushMissing.Stderr);
    }

    [SkippableFact]
    public void Credentials_from_the_clients_config_reach_a_basic_auth_registry()
    {
        Skip.IfNot(DaemonTools.IsRoot, RootReason);
        image.EnsurePushed();
        using var daemon = DaemonInstance.Start();
        using var secured = new RegistryProcess(basicAuth: true);
        Ok(Docker(daemon, "pull", image.Reference));
        string target = $"{secured.Domain}/private/busybox:1";
        Ok(Docker(daemon, "tag", image.Reference, target));

        // No credentials: the registry's 401 comes back as the daemon's error.
        var refused = Docker(daemon, "push", target);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"no basic auth credentials for {secured.Domain}", refused.Stderr + refused.Stdout);

        // The CLI sends X-Registry-Auth from its config.json; berthd must use it.
        string configDir = Path.Combine(daemon.Root, "docker-config");
        Directory.CreateDirectory(configDir);
        void WriteAuth(string password) => File.WriteAllText(Path.Combine(configDir, "config.json"),
            "{\"auths\":{\"" + secured.Domain + "\":{\"auth\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes(RegistryProcess.User + ":" + password)) + "\"}}}");
        WriteAuth("wrong-password");
        var wrong = Docker(daemon, "push", target);
        Assert.Equal(1, wrong.ExitCode);
        WriteAuth(RegistryProcess.Password);
        var push = Ok(Docker(daemon, "push", target));
        Assert.Matches(@"1: digest: sha256:[0-9a-f]{64} size: \d+", push.Stdout);
        Ok(Docker(daemon, "rmi", target));
        var pull = Ok(Docker(daemon, "pull", target));
        // The layers are still there under the first name: only the manifest came from the secured registry.
        Assert.Matches($"Status: (Downloaded newer image|Image is up to date) for {Regex.Escape(target)}", pull.Stdout);
        Assert.Contains(target, Ok(Docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}")).Stdout);
    }

    [SkippableFact]
    public void Berth_pulls_with_plain_lines_and_the_snapshots_equal_umoci_unpack()
    {
        Skip.IfNot(DaemonTools.IsRoot, RootReason);
        Skip.If(DaemonTools.Which("umoci") is null, "umoci is not installed (apt-get install umoci)");
        image.EnsurePushed();
        using var daemon = DaemonInstance.Start();
        var env = new Dictionary<string, string> { ["BERTH_HOST"] = daemon.Host };
        var pull = Ok(DaemonTools.Run(DaemonTools.Berth, ["pull", image.Reference], env, timeoutSeconds: 120));
        // Not a terminal: one plain line per event, no cursor movement.
        Assert.DoesNotContain("\u001b[", pull.Stdout);
        Assert.Contains($"{RegistryWithImage.Tag}: Pulling from {RegistryWithImage.Repository}", pull.Stdout);
        Assert.Contains("Pull complete", pull.Stdout);
        Assert.Contains($"Status: Downloaded newer image for {image.Reference}", pull.Stdout);
        var images = Ok(DaemonTools.Run(DaemonTools.Berth, ["images"], env));
        Assert.Matches($@"\n{Regex.Escape(image.Registry.Domain + "/" + RegistryWithImage.Repository)}\s+{RegistryWithImage.Tag}\s", images.Stdout);

        // Stop the daemon so nothing changes the store while it is read.
        Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(20)));
        using var scratch = new Scratch();
        var bundle = Path.Combine(scratch.Path, "bundle");
        Berth.Snapshots.RootTests.Tool.Run("umoci", "unpack", "--image", $"{image.LayoutPath}:{RegistryWithImage.Tag}", bundle);
        var umociTree = TreeDescription.Of(Path.Combine(bundle, "rootfs"));

        var store = new SnapshotStore(Path.Combine(daemon.DataRoot, "snapshots"));
        var top = ChainIds(image.Layers.Select(l => l.DiffId))[^1];
        var view = store.View(top);
        Assert.Equal(2, view.LowerDirs.Count);
        var mnt = scratch.Mount(view, "rootfs");
        var berthTree = TreeDescription.Of(mnt);
        Assert.True(TreeDescription.Diff(umociTree, berthTree) == "", "trees differ:\n" + TreeDescription.Diff(umociTree, berthTree));
        // Equal trees could be equally wrong: check the image's facts too.
        Assert.True(berthTree.ContainsKey("/bin/busybox"));
        Assert.False(berthTree.ContainsKey("/etc/gone"), "/etc/gone was whited out by layer 2 but is visible");
        Assert.StartsWith("file mode=600 owner=1000:1000", berthTree["/etc/hostname"]);
        Assert.Equal(File.ReadAllBytes("/bin/busybox"), File.ReadAllBytes(Path.Combine(mnt, "bin/busybox")));
        scratch.Unmount(mnt);
    }

    [SkippableFact]
    public void Berth_pull_on_a_terminal_draws_a_bar_per_layer()
    {
        Skip.IfNot(DaemonTools.IsRoot, RootReason);
        Skip.If(DaemonTools.Which("script") is null, "script is not installed (apt-get install bsdutils)");
        image.EnsurePushed();
        using var daemon = DaemonInstance.Start();
        using var scratch = new Scratch();
        string typescript = Path.Combine(scratch.Path, "typescript");
        // script(1) gives berth a pty as its stdout, so it takes the terminal path (Spectre.Console's live bars).
        var run = DaemonTools.Run("script", ["-qec", $"{DaemonTools.Berth} pull {image.Reference}", typescript],
            new Dictionary<string, string> { ["BERTH_HOST"] = daemon.Host, ["TERM"] = "xterm", ["COLUMNS"] = "120" }, timeoutSeconds: 120);
        string screen = File.ReadAllText(typescript);

        Assert.True(run.ExitCode == 0, $"berth pull on a terminal exited {run.ExitCode}:\n{screen}");
        Assert.Contains("\u001b[", screen); // drawn with cursor movement, not plain lines
        foreach (var layer in image.Layers)
            Assert.Contains($"{Sha256(layer.Blob)[7..19]}: Pull complete", screen);
        Assert.Contains($"Status: Downloaded newer image for {image.Reference}", screen);
    }
}
