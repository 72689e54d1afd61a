using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Berth.Linux;
using Microsoft.Win32.SafeHandles;

namespace Berth.Images;

/// <summary>One image: its id is the digest of its config, as docker's image ids are.</summary>
public sealed record ImageRecord
{
    [JsonPropertyName("id")] public required Digest Id { get; init; }
    [JsonPropertyName("configMediaType")] public string ConfigMediaType { get; init; } = MediaTypes.OciConfig;
    /// <summary>The platform manifest of this image (what a push sends).</summary>
    [JsonPropertyName("manifest")] public required Descriptor Manifest { get; init; }
    /// <summary>Every manifest and index blob kept for this image (indexes it was pulled through, the platform manifest).</summary>
    [JsonPropertyName("manifests")] public IReadOnlyList<Digest> Manifests { get; init; } = [];
    [JsonPropertyName("layers")] public IReadOnlyList<Descriptor> Layers { get; init; } = [];
    /// <summary>Normalised "domain/path:tag" names.</summary>
    [JsonPropertyName("repoTags")] public IReadOnlyList<string> RepoTags { get; init; } = [];
    /// <summary>Normalised "domain/path@sha256:..." names.</summary>
    [JsonPropertyName("repoDigests")] public IReadOnlyList<string> RepoDigests { get; init; } = [];
    [JsonPropertyName("created")] public DateTimeOffset? Created { get; init; }
    [JsonPropertyName("added")] public DateTimeOffset Added { get; init; }
    /// <summary>The sum of the layer blob sizes as stored (compressed, as pulled).</summary>
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("platform")] public Platform? Platform { get; init; }

    [JsonIgnore] public IEnumerable<string> FamiliarRepoTags => RepoTags.Select(t => ImageReference.ParseNormalized(t).FamiliarString);
    [JsonIgnore] public IEnumerable<string> FamiliarRepoDigests => RepoDigests.Select(t => ImageReference.ParseNormalized(t).FamiliarString);

    /// <summary>Every blob this image needs kept: config, manifests, layers.</summary>
    [JsonIgnore] public IEnumerable<Digest> Blobs => Manifests.Append(Manifest.Digest).Append(Id).Concat(Layers.Select(l => l.Digest));
}

/// <summary>What <see cref="ImageStore.Remove"/> did, one line per action, as dockerd's DELETE /images answers.</summary>
public sealed record ImageDeleteResponse(string? Untagged, string? Deleted);

/// <summary>What garbage collection freed.</summary>
public sealed record CollectResult(IReadOnlyList<Digest> Deleted, long BytesFreed);

internal sealed record ImageStoreFile
{
    [JsonPropertyName("images")] public List<ImageRecord> Images { get; init; } = [];
    /// <summary>Per blob, the repositories ("domain/path") it is known to exist in: for cross-repository mounts on push.</summary>
    [JsonPropertyName("sources")] public Dictionary<string, List<string>> Sources { get; init; } = [];

    /// <summary>A copy a change can edit while the current state stays as it is (records are immutable; the lists are copied).</summary>
    public ImageStoreFile Copy() => new()
    {
        Images = [.. Images],
        Sources = Sources.ToDictionary(kv => kv.Key, kv => new List<string>(kv.Value)),
    };
}

/// <summary>Blobs known to exist in a repository ("domain/path") of a registry: what a pull or push adds for later mounts.</summary>
public sealed record BlobSources(IReadOnlyList<Digest> Blobs, string Repository);

/// <summary>
/// The image metadata store: images by id with their tags and digests, persisted to <c>images.json</c> under the
/// root. Every change is made on a copy of the state, written to a temp file, fsynced and renamed over
/// images.json; only then does the store answer with the new state, so a change that cannot be saved (a full disk)
/// changes nothing. Removal follows dockerd's rules and <see cref="Collect"/> frees the blobs no image needs any longer.
/// </summary>
public sealed partial class ImageStore
{
    /// <summary>The repository name dockerd refuses: its tags would read as short image ids ("sha256:871f7013").</summary>
    private const string DigestAlgorithmName = "sha256";
    private readonly string _file;
    private readonly Lock _lock = new();
    private ImageStoreFile _state;

    public ImageStore(string root, ContentStore content)
    {
        Root = Path.GetFullPath(root);
        Content = content;
        Directory.CreateDirectory(Root);
        _file = Path.Combine(Root, "images.json");
        // Left by a save that was cut short: its rename never happened, so images.json holds the state.
        ContentStore.TryDelete(_file + ".tmp");
        _state = Load(_file);
    }

    public string Root { get; }
    public ContentStore Content { get; }

    public IReadOnlyList<ImageRecord> List()
    {
        lock (_lock) return [.. _state.Images];
    }

    public ImageRecord? Get(Digest id)
    {
        lock (_lock) return _state.Images.Find(i => i.Id == id);
    }

    /// <summary>
    /// The checks dockerd makes before it creates a tag: no digest, and not the repository "sha256", whose tags would
    /// shadow short image ids (dockerd's own words and status, 400).
    /// </summary>
    public static void CheckTag(ImageReference reference, string text)
    {
        if (reference.Digest is not null)
            throw new ReferenceException(text, "refusing to create a tag with a digest reference");
        if (reference.FamiliarName == DigestAlgorithmName)
            throw new ReferenceException(text, "refusing to create an ambiguous tag using digest algorithm as name");
    }

    /// <summary>Parses a name to tag with (":latest" when it has no tag) and makes <see cref="CheckTag"/>'s checks.</summary>
    public static ImageReference ParseTag(string text)
    {
        var reference = ImageReference.Parse(text);
        CheckTag(reference, text);
        return reference;
    }

    /// <summary>Adds an image or merges what is new (manifests, tags, digests) into the one with the same id. Tags move from other images.</summary>
    public ImageRecord Put(ImageRecord image) => Add([image])[0];

    /// <summary>
    /// Adds images (or merges them into the ones with the same ids), their tags moved from other images, and the
    /// blobs' sources, in one atomic step: all of it is saved, or nothing changes.
    /// </summary>
    public IReadOnlyList<ImageRecord> Add(IReadOnlyList<ImageRecord> images, BlobSources? sources = null)
    {
        foreach (var tag in images.SelectMany(i => i.RepoTags)) CheckTag(ImageReference.ParseNormalized(tag), tag);
        return Change(state =>
        {
            var added = images.Select(image => Merge(state, image)).ToList();
            if (sources is not null) AddSources(state, sources.Blobs, sources.Repository);
            return (added, true);
        });
    }

    private static ImageRecord Merge(ImageStoreFile state, ImageRecord image)
    {
        foreach (var tag in image.RepoTags) RemoveRef(state, tag);
        var existing = state.Images.FindIndex(i => i.Id == image.Id);
        if (existing < 0)
        {
            var added = image with { Added = image.Added == default ? DateTimeOffset.UtcNow : image.Added };
            state.Images.Add(added);
            return added;
        }
        var old = state.Images[existing];
        var merged = old with
        {
            Manifest = image.Manifest,
            Manifests = [.. old.Manifests.Union(image.Manifests)],
            Layers = image.Layers,
            RepoTags = [.. old.RepoTags.Union(image.RepoTags)],
            RepoDigests = [.. old.RepoDigests.Union(image.RepoDigests)],
            Created = image.Created ?? old.Created,
            Size = image.Size,
            Platform = image.Platform ?? old.Platform,
        };
        state.Images[existing] = merged;
        return merged;
    }

    /// <summary>docker tag: points <paramref name="target"/> (a name with a tag, default "latest") at the image <paramref name="source"/> resolves to.</summary>
    public ImageRecord Tag(string source, string target)
    {
        var reference = ParseTag(target);
        return Change(state =>
        {
            var image = Resolve(source);
            RemoveRef(state, reference.ToString());
            var index = state.Images.FindIndex(i => i.Id == image.Id);
            var tagged = state.Images[index] with { RepoTags = [.. state.Images[index].RepoTags, reference.ToString()] };
            state.Images[index] = tagged;
            return (tagged, true);
        });
    }

    /// <summary>Adds "name@digest" to an image's repo digests (after a push or pull).</summary>
    public void AddRepoDigest(Digest id, ImageReference name, Digest manifestDigest)
    {
        var entry = name.NameOnly().WithDigest(manifestDigest).ToString();
        Change(state =>
        {
            var index = state.Images.FindIndex(i => i.Id == id);
            if (index < 0) throw new ImageNotFoundException(id.ToString());
            if (state.Images[index].RepoDigests.Contains(entry)) return (0, false);
            state.Images[index] = state.Images[index] with { RepoDigests = [.. state.Images[index].RepoDigests, entry] };
            return (0, true);
        });
    }

    /// <summary>Records that a blob exists in a repository ("domain/path"), for cross-repository mounts.</summary>
    public void AddSource(Digest blob, string repository) => AddSources([blob], repository);

    public void AddSources(IEnumerable<Digest> blobs, string repository) =>
        Change(state => (0, AddSources(state, blobs, repository)));

    private static bool AddSources(ImageStoreFile state, IEnumerable<Digest> blobs, string repository)
    {
        var changed = false;
        foreach (var blob in blobs)
        {
            var key = blob.ToString();
            if (!state.Sources.TryGetValue(key, out var repos)) state.Sources[key] = repos = [];
            if (repos.Contains(repository)) continue;
            repos.Add(repository);
            changed = true;
        }
        return changed;
    }

    public IReadOnlyList<string> Sources(Digest blob)
    {
        lock (_lock) return _state.Sources.TryGetValue(blob.ToString(), out var repos) ? [.. repos] : [];
    }

    /// <summary>Finds an image as docker does: a full id ("sha256:..." or 64 hex), a reference (tag or digest), or an unambiguous id prefix.</summary>
    public ImageRecord Resolve(string refOrId) =>
        TryResolve(refOrId, out var image) ? image : throw new ImageNotFoundException(refOrId);

    /// <summary>
    /// <see cref="Resolve"/>, with every blob of the image pinned in <paramref name="lease"/> in the same step, so a
    /// removal and collection cannot take them before the caller reads them (save, push).
    /// </summary>
    public ImageRecord Resolve(string refOrId, ContentLease lease)
    {
        lock (_lock)
        {
            var image = Resolve(refOrId);
            lease.AddRange(image.Blobs);
            return image;
        }
    }

    /// <summary>
    /// dockerd's order: a full id ("sha256:HEX" or 64 hex) first, then a name, then an id prefix. A name that looks
    /// like an id prefix ("sha256:871f7013") cannot exist: <see cref="CheckTag"/> refuses the repository "sha256".
    /// </summary>
    public bool TryResolve(string refOrId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ImageRecord? image)
    {
        lock (_lock)
        {
            image = null;
            if (Digest.TryParse(refOrId, out var id) || Digest.TryParseHex(refOrId, out id))
            {
                image = _state.Images.Find(i => i.Id == id);
                if (image is not null) return true;
            }
            if (!IdPrefix().IsMatch(refOrId) || refOrId.Length < 64)
            {
                if (ImageReference.TryParse(refOrId, out var reference))
                {
                    var key = reference.Digest is not null ? reference.NameOnly().WithDigest(reference.Digest.Value).ToString() : reference.ToString();
                    image = reference.Digest is not null
                        ? _state.Images.Find(i => i.RepoDigests.Contains(key) || i.Manifests.Contains(reference.Digest.Value) && i.RepoDigests.Any(d => d.StartsWith(reference.Name + "@", StringComparison.Ordinal)))
                        : _state.Images.Find(i => i.RepoTags.Contains(key));
                    if (image is not null) return true;
                }
                else if (!IdPrefix().IsMatch(refOrId))
                {
                    ImageReference.Parse(refOrId); // throws the reference's own error
                }
            }
            var prefix = refOrId.StartsWith("sha256:", StringComparison.Ordinal) ? refOrId[7..] : refOrId;
            if (prefix.Length == 0 || !HexPrefix().IsMatch(prefix)) return false;
            var matches = _state.Images.Where(i => i.Id.Hex.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (matches.Count > 1) throw new AmbiguousImageException(refOrId);
            image = matches.FirstOrDefault();
            return image is not null;
        }
    }

    /// <summary>
    /// docker rmi. A name untags (and, with its last tag of a repository, that repository's digest
    /// references); the image goes when nothing references it. An id deletes the image when at most one
    /// tag in one repository names it; referenced from several repositories it needs <paramref name="force"/>.
    /// Blobs are not freed here: call <see cref="Collect"/>.
    /// </summary>
    public IReadOnlyList<ImageDeleteResponse> Remove(string refOrId, bool force = false) => Change(state =>
    {
        var image = Resolve(refOrId);
        var records = new List<ImageDeleteResponse>();
        var refs = image.RepoTags.Concat(image.RepoDigests).ToList();
        if (!IsIdReference(refOrId, image.Id))
        {
            var named = ImageReference.Parse(refOrId);
            var key = named.Digest is not null ? named.NameOnly().WithDigest(named.Digest.Value).ToString() : named.ToString();
            var removed = refs.Remove(key);
            if (!removed && named.Digest is not null)
            {
                // Resolved through a manifest digest of the repository: the repo digest entry may name an index.
                key = refs.FirstOrDefault(r => r.StartsWith(named.Name + "@", StringComparison.Ordinal)) ?? key;
                removed = refs.Remove(key);
            }
            if (removed) records.Add(new(ImageReference.ParseNormalized(key).FamiliarString, null));
            if (named.Digest is null && !refs.Any(r => IsTag(r) && NameOf(r) == named.Name))
            {
                foreach (var digestRef in refs.Where(r => !IsTag(r) && NameOf(r) == named.Name).ToList())
                {
                    refs.Remove(digestRef);
                    records.Add(new(ImageReference.ParseNormalized(digestRef).FamiliarString, null));
                }
            }
            if (refs.Count > 0)
            {
                var index = state.Images.FindIndex(i => i.Id == image.Id);
                state.Images[index] = image with { RepoTags = [.. refs.Where(IsTag)], RepoDigests = [.. refs.Where(r => !IsTag(r))] };
                return (records, true);
            }
        }
        else if (refs.Count > 0)
        {
            var single = refs.Count(IsTag) <= 1 && refs.Select(NameOf).Distinct().Count() == 1;
            if (!single && !force)
                throw new ImageConflictException($"conflict: unable to delete {image.Id.Short} (must be forced) - image is referenced in multiple repositories");
            foreach (var r in refs) records.Add(new(ImageReference.ParseNormalized(r).FamiliarString, null));
        }
        state.Images.RemoveAll(i => i.Id == image.Id);
        records.Add(new(null, image.Id.ToString()));
        return (records, true);
    });

    /// <summary>Deletes every blob (and partial ingest) no image references, except blobs pinned by a running operation.</summary>
    public CollectResult Collect()
    {
        lock (_lock)
        {
            var reachable = _state.Images.SelectMany(i => i.Blobs).ToHashSet();
            var deleted = new List<Digest>();
            long freed = 0;
            foreach (var blob in Content.Enumerate().ToList())
            {
                if (reachable.Contains(blob)) continue;
                var size = Content.Size(blob) ?? 0;
                if (Content.DeleteIfUnused(blob))
                {
                    deleted.Add(blob);
                    freed += size;
                }
            }
            foreach (var partial in Content.EnumeratePartial().ToList()) Content.DeleteIfUnused(partial);
            try
            {
                Change(state =>
                {
                    var stale = state.Sources.Keys.Where(k => !Digest.TryParse(k, out var d) || !reachable.Contains(d)).ToList();
                    foreach (var key in stale) state.Sources.Remove(key);
                    return (0, stale.Count > 0);
                });
            }
            catch (ImageStoreSaveException)
            {
                // Sources of blobs that are gone are only unused hints: a later collection drops them.
            }
            return new CollectResult(deleted, freed);
        }
    }

    /// <summary>Deletes the given blobs (and their partial data) when no image references them and no operation holds them.</summary>
    public IReadOnlyList<Digest> DeleteUnreferenced(IEnumerable<Digest> blobs)
    {
        lock (_lock)
        {
            var reachable = _state.Images.SelectMany(i => i.Blobs).ToHashSet();
            return [.. blobs.Distinct().Where(blob => !reachable.Contains(blob) && Content.DeleteIfUnused(blob))];
        }
    }

    private static bool IsIdReference(string refOrId, Digest id)
    {
        var text = refOrId.StartsWith("sha256:", StringComparison.Ordinal) ? refOrId[7..] : refOrId;
        return HexPrefix().IsMatch(text) && id.Hex.StartsWith(text, StringComparison.Ordinal);
    }

    private static bool IsTag(string normalized) => !normalized.Contains('@');

    private static string NameOf(string normalized)
    {
        var at = normalized.IndexOf('@');
        if (at >= 0) return normalized[..at];
        var colon = normalized.LastIndexOf(':');
        return colon > normalized.LastIndexOf('/') ? normalized[..colon] : normalized;
    }

    /// <summary>Takes a tag off whichever image has it (the image stays, possibly dangling, as docker keeps it).</summary>
    private static void RemoveRef(ImageStoreFile state, string normalized)
    {
        for (var i = 0; i < state.Images.Count; i++)
            if (state.Images[i].RepoTags.Contains(normalized))
                state.Images[i] = state.Images[i] with { RepoTags = [.. state.Images[i].RepoTags.Where(t => t != normalized)] };
    }

    /// <summary>
    /// Runs <paramref name="change"/> on a copy of the state; when it says it changed something, the copy is saved
    /// and becomes the state. A change that throws, or whose save fails, leaves the state as it was.
    /// </summary>
    private T Change<T>(Func<ImageStoreFile, (T Result, bool Changed)> change)
    {
        lock (_lock)
        {
            var next = _state.Copy();
            var (result, changed) = change(next);
            if (changed) Save(next);
            return result;
        }
    }

    private void Save(ImageStoreFile next)
    {
        var temp = _file + ".tmp";
        try
        {
            using (var stream = new FileStream(new SafeFileHandle(OpenTemp(temp), ownsHandle: true), FileAccess.Write))
            {
                JsonSerializer.Serialize(stream, next, ImagesJsonContext.Default.ImageStoreFile);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, _file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or LinuxException or UnauthorizedAccessException)
        {
            ContentStore.TryDelete(temp);
            throw new ImageStoreSaveException(_file, e);
        }
        // The rename is the commit: images.json holds the new state from here on, and so does the store.
        _state = next;
        using var dir = Sys.Open(Root, Libc.O_RDONLY | Libc.O_DIRECTORY);
        if (Libc.fsync(dir.Value) < 0) throw LinuxException.FromLastError("fsync", Root);
    }

    // libc's open, not FileStream's: its errors are errno sentences even where .NET's resource texts are stripped.
    private static IntPtr OpenTemp(string path)
    {
        int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0b110_100_100);
        if (fd < 0) throw LinuxException.FromLastError("open", path);
        return fd;
    }

    private static ImageStoreFile Load(string file)
    {
        if (!File.Exists(file)) return new ImageStoreFile();
        try
        {
            var bytes = File.ReadAllBytes(file);
            return JsonSerializer.Deserialize(bytes, ImagesJsonContext.Default.ImageStoreFile) ?? new ImageStoreFile();
        }
        catch (JsonException e)
        {
            throw new ImageFormatException($"{file}: invalid image store{(e.Path is null ? "" : " at " + e.Path)}: {e.Message}", e);
        }
    }

    [GeneratedRegex("^[a-f0-9]{1,64}$")]
    private static partial Regex HexPrefix();

    [GeneratedRegex("^(sha256:)?[a-f0-9]{1,64}$")]
    private static partial Regex IdPrefix();
}

/// <summary>images.json could not be written (a full disk, an I/O error); the store and the file are as they were.</summary>
public sealed class ImageStoreSaveException(string file, Exception inner)
    : IOException($"saving the image store {file}: {inner.Message}; nothing was changed", inner);

/// <summary>No image by that name or id: "No such image: X", as dockerd says (a 404).</summary>
public sealed class ImageNotFoundException(string refOrId) : Exception($"No such image: {refOrId}")
{
    public string Reference { get; } = refOrId;
}

/// <summary>An id prefix that matches several images (dockerd answers 400 with a similar message).</summary>
public sealed class AmbiguousImageException(string prefix) : Exception($"multiple IDs found with provided prefix: {prefix}");

/// <summary>A removal docker would refuse without force (dockerd answers 409).</summary>
public sealed class ImageConflictException(string message) : Exception(message);
