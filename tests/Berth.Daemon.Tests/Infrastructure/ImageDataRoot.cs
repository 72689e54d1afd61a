using System.Text.Json;
using Berth.Images;
using Berth.Snapshots;

namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>
/// What a berthd's image store holds, read three ways that must agree: the listing the daemon answers
/// (GET /images/json), images.json on disk, and the blobs and layer snapshots on disk (exactly those the recorded
/// images need). No temp file may be left: nothing in the content store's ingest area, no snapshot being unpacked or
/// removed, no images.json.tmp.
/// </summary>
public static class ImageDataRoot
{
    /// <summary>
    /// Asserts the three agree and nothing temporary is left, naming every difference (and <paramref name="context"/>,
    /// such as the output of the operation before); returns the images as "ID tag,tag" lines.
    /// </summary>
    public static string AssertConsistent(DaemonInstance daemon, string context = "")
    {
        string listed = Listing(daemon);
        string image = Path.Combine(daemon.DataRoot, "image");
        string snapshots = Path.Combine(daemon.DataRoot, "snapshots");
        string file = Path.Combine(image, "images", "images.json");

        var recorded = new List<string>();
        var blobs = new SortedSet<string>(StringComparer.Ordinal);
        var chains = new SortedSet<string>(StringComparer.Ordinal);
        if (File.Exists(file))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
            foreach (var img in doc.RootElement.GetProperty("images").EnumerateArray())
            {
                string id = img.GetProperty("id").GetString()!;
                var tags = img.GetProperty("repoTags").EnumerateArray().Select(t => ImageReference.ParseNormalized(t.GetString()!).FamiliarString);
                recorded.Add(Line(id, tags));
                blobs.Add(id);
                blobs.Add(img.GetProperty("manifest").GetProperty("digest").GetString()!);
                foreach (var m in img.GetProperty("manifests").EnumerateArray()) blobs.Add(m.GetString()!);
                foreach (var l in img.GetProperty("layers").EnumerateArray()) blobs.Add(l.GetProperty("digest").GetString()!);
                using var config = JsonDocument.Parse(File.ReadAllBytes(BlobPath(daemon, id)));
                string? parent = null;
                foreach (var diffId in config.RootElement.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray())
                    chains.Add(parent = LayerDigests.ChainId(parent, diffId.GetString()!));
            }
        }
        string onDisk = string.Join("\n", recorded.Order(StringComparer.Ordinal));
        var problems = new List<string>();
        if (listed != onDisk) problems.Add($"the listing:\n{listed}\ndiffers from images.json:\n{onDisk}");
        Compare(problems, "blobs", blobs, Files(Path.Combine(image, "content", "blobs", "sha256")).Select(f => "sha256:" + f));
        Compare(problems, "layer snapshots", chains, Files(Path.Combine(snapshots, "layers")).Select(f => "sha256:" + f));
        foreach (var dir in new[] { Path.Combine(image, "content", "ingest"), Path.Combine(snapshots, "tmp"), Path.Combine(snapshots, "active") })
            if (Files(dir) is { Length: > 0 } left) problems.Add($"left in {dir}: {string.Join(", ", left)}");
        if (Files(Path.Combine(image, "images")).Where(f => f != "images.json").ToList() is { Count: > 0 } extra)
            problems.Add($"beside images.json: {string.Join(", ", extra)}");
        Assert.True(problems.Count == 0, string.Join("\n", problems) + (context.Length > 0 ? "\nafter:\n" + context : ""));
        return listed;
    }

    /// <summary>GET /images/json as sorted "ID tag,tag" lines.</summary>
    public static string Listing(DaemonInstance daemon)
    {
        var result = Tools.Curl(daemon.Socket, "http://berthd/images/json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Stdout);
        return string.Join("\n", doc.RootElement.EnumerateArray()
            .Select(i => Line(i.GetProperty("Id").GetString()!, i.GetProperty("RepoTags").EnumerateArray().Select(t => t.GetString()!)))
            .Order(StringComparer.Ordinal));
    }

    static void Compare(List<string> problems, string what, IEnumerable<string> expected, IEnumerable<string> actual)
    {
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        if (missing.Count > 0) problems.Add($"{what} the images need but the disk lacks: {string.Join(", ", missing)}");
        if (extra.Count > 0) problems.Add($"{what} on disk that no image needs: {string.Join(", ", extra)}");
    }

    static string Line(string id, IEnumerable<string> tags) => $"{id} {string.Join(",", tags.Where(t => t != "<none>:<none>").Order(StringComparer.Ordinal))}";

    public static string BlobPath(DaemonInstance daemon, string digest) =>
        Path.Combine(daemon.DataRoot, "image", "content", "blobs", "sha256", digest["sha256:".Length..]);

    static string[] Files(string dir) =>
        Directory.Exists(dir) ? [.. Directory.EnumerateFileSystemEntries(dir).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)] : [];
}
