using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Snapshots;

namespace Berth.Images;

/// <summary>One image of a <c>docker save</c> manifest.json.</summary>
internal sealed record DockerArchiveEntry
{
    [JsonPropertyName("Config")] public required string Config { get; init; }
    [JsonPropertyName("RepoTags")] public List<string>? RepoTags { get; init; }
    [JsonPropertyName("Layers")] public required List<string> Layers { get; init; }
}

/// <summary>
/// Image archives, both ways: <c>docker save</c> tars (manifest.json, legacy or docker 25's) and OCI image
/// layouts (index.json + blobs/sha256), and <c>import</c> of a rootfs tar as a one-layer image.
/// Every blob goes through the content store (verified when its name is a digest) and is pinned while the operation
/// runs. Load and import are all or nothing: the images are checked, handed to the caller's <c>prepare</c> step
/// (berthd unpacks their layers there), and only then recorded with their tags, in one step; a failure before that
/// records nothing and leaves no blob behind. Saved archives carry both manifest.json and an OCI layout, as docker 25
/// writes them.
/// </summary>
public sealed class ImageArchive(ImageStore images)
{
    private const int MaxMetadataBytes = 16 << 20;
    private const string ContainerdNameAnnotation = "io.containerd.image.name";
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    private ContentStore Content => images.Content;

    /// <summary>
    /// docker load: returns the images loaded (tagged as the archive says). <paramref name="prepare"/> runs for each
    /// image before any is recorded; when it or anything else fails, no image is recorded and no tag moves.
    /// </summary>
    public async Task<IReadOnlyList<ImageRecord>> LoadAsync(Stream archive, Func<ImageRecord, CancellationToken, Task>? prepare = null,
        CancellationToken cancellationToken = default)
    {
        var files = new Dictionary<string, (Digest Digest, long Size)>();
        var links = new Dictionary<string, string>();
        var metadata = new Dictionary<string, byte[]>();
        using var lease = Content.Lease();
        var succeeded = false;
        try
        {
            using (var reader = new LayerTarReader(archive, "tar"))
            {
                while (await NextEntryAsync(reader, "archive", cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    var name = Normalize(entry.Name);
                    if (entry.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink)
                    {
                        links[name] = entry.EntryType == TarEntryType.HardLink ? Normalize(entry.LinkName)
                            : Normalize(CombineLink(name, entry.LinkName));
                        continue;
                    }
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                    if (name is "manifest.json" or "index.json" or "oci-layout" or "repositories")
                    {
                        if (entry.Length > MaxMetadataBytes) throw new ImageFormatException($"archive member {name}: {entry.Length} bytes is over the limit");
                        using var buffer = new MemoryStream();
                        await entry.DataStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                        metadata[name] = buffer.ToArray();
                        continue;
                    }
                    Digest? expected = null;
                    if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal))
                        expected = Digest.TryParseHex(name["blobs/sha256/".Length..], out var d) ? d
                            : throw new ImageFormatException($"archive member {name}: not named by a sha256 digest");
                    files[name] = await Content.WriteAsync(entry.DataStream, expected, lease, cancellationToken).ConfigureAwait(false);
                }
            }
            (Digest Digest, long Size) File(string path, string what)
            {
                var name = Normalize(path);
                for (var hops = 0; links.TryGetValue(name, out var target) && hops < 16; hops++) name = target;
                return files.TryGetValue(name, out var f) ? f : throw new ImageFormatException($"archive: {what} {path} is not in the archive");
            }

            List<ImageRecord> loaded;
            if (metadata.TryGetValue("index.json", out var indexBytes))
                loaded = LoadOciLayout(indexBytes, lease);
            else if (metadata.TryGetValue("manifest.json", out var manifestBytes))
                loaded = LoadDockerManifest(manifestBytes, File, lease);
            else
                throw new ImageFormatException("archive has neither manifest.json (docker save) nor index.json (OCI image layout)");
            if (prepare is not null)
                foreach (var image in loaded) await prepare(image, cancellationToken).ConfigureAwait(false);
            var recorded = images.Add(loaded);
            succeeded = true;
            return recorded;
        }
        finally
        {
            lease.Dispose();
            if (!succeeded) images.DeleteUnreferenced(lease.Digests);
        }
    }

    private List<ImageRecord> LoadOciLayout(byte[] indexBytes, ContentLease lease)
    {
        var indexDigest = Digest.Compute(indexBytes);
        var index = ImageJson.ParseIndex(indexBytes, indexDigest);
        var loaded = new List<ImageRecord>();
        foreach (var entry in index.Manifests)
        {
            var descriptor = entry;
            var manifests = new List<Digest>();
            if (MediaTypes.IsIndex(entry.MediaType))
            {
                var nested = ImageJson.ParseIndex(ReadBlob(entry.Digest, "index"), entry.Digest);
                manifests.Add(entry.Digest);
                descriptor = Registry.PlatformMatcher.Select(nested, Registry.PlatformMatcher.Default, $"archive index {entry.Digest}");
            }
            if (!MediaTypes.IsManifest(descriptor.MediaType)) continue; // attestations and other artifacts
            var manifest = ImageJson.ParseManifest(ReadBlob(descriptor.Digest, "manifest"), descriptor.Digest);
            manifests.Add(descriptor.Digest);
            var names = new List<string>();
            var name = entry.Annotations?.GetValueOrDefault(ContainerdNameAnnotation) ?? entry.Annotations?.GetValueOrDefault(RefNameAnnotation);
            // A bare ref.name ("v1") is only a tag inside the layout: docker loads such images untagged.
            if (name is not null && (name.Contains('/') || name.Contains(':')) && ImageReference.TryParse(name, out var reference) && reference.Digest is null)
            {
                ImageStore.CheckTag(reference, name);
                names.Add(reference.ToString());
            }
            loaded.Add(Record(descriptor, manifests, manifest, names, lease));
        }
        return loaded;
    }

    private List<ImageRecord> LoadDockerManifest(byte[] bytes, Func<string, string, (Digest Digest, long Size)> file, ContentLease lease)
    {
        List<DockerArchiveEntry> entries;
        try
        {
            entries = JsonSerializer.Deserialize(bytes, ImagesJsonContext.Default.ListDockerArchiveEntry) ?? [];
        }
        catch (JsonException e)
        {
            throw new ImageFormatException($"archive manifest.json: invalid{(e.Path is null ? "" : " at " + e.Path)}: {e.Message}", e);
        }
        var loaded = new List<ImageRecord>();
        foreach (var entry in entries)
        {
            var names = (entry.RepoTags ?? []).Select(RepoTag).ToList();
            var config = file(entry.Config, "config");
            var configJson = ImageJson.ParseConfig(ReadBlob(config.Digest, "config"), config.Digest);
            if (configJson.RootFs.DiffIds.Count != entry.Layers.Count)
                throw new ImageFormatException($"archive: config {entry.Config} lists {configJson.RootFs.DiffIds.Count} diff_ids for {entry.Layers.Count} layers");
            var layers = new List<Descriptor>();
            var anyZstd = false;
            for (var i = 0; i < entry.Layers.Count; i++)
            {
                var layer = file(entry.Layers[i], "layer");
                var compression = Sniff(layer.Digest);
                anyZstd |= compression == LayerCompression.Zstd;
                if (compression == LayerCompression.None && layer.Digest != configJson.RootFs.DiffIds[i])
                    throw new DigestMismatchException(configJson.RootFs.DiffIds[i], layer.Digest, $"layer {entry.Layers[i]} (diff_id {i} of {entry.Config})");
                layers.Add(new Descriptor { MediaType = compression.ToString(), Digest = layer.Digest, Size = layer.Size });
            }
            var oci = anyZstd;
            layers = [.. layers.Select(l => l with { MediaType = LayerMediaType(Enum.Parse<LayerCompression>(l.MediaType), oci) })];
            var manifest = new ImageManifest
            {
                MediaType = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest,
                Config = new Descriptor { MediaType = oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig, Digest = config.Digest, Size = config.Size },
                Layers = layers,
            };
            var manifestBytes = ImageJson.Serialize(manifest);
            var manifestDigest = Content.Write(manifestBytes, lease: lease);
            var descriptor = new Descriptor { MediaType = manifest.MediaType, Digest = manifestDigest, Size = manifestBytes.Length };
            loaded.Add(Record(descriptor, [manifestDigest], manifest, names, lease));
        }
        return loaded;
    }

    /// <summary>
    /// A RepoTags entry of manifest.json, as dockerd takes it: a name with a tag (else "invalid tag"), then the checks
    /// of <c>docker tag</c>. dockerd 20.10 lets "name:tag@digest" and "sha256:..." through; berth refuses both.
    /// </summary>
    private static string RepoTag(string text)
    {
        var reference = ImageReference.ParseNormalized(text);
        if (reference.Tag is null) throw new ImageFormatException($"invalid tag \"{text}\"");
        ImageStore.CheckTag(reference, text);
        return reference.ToString();
    }

    /// <summary>The record of an image whose blobs are all stored (pinned first, then checked); not recorded yet.</summary>
    private ImageRecord Record(Descriptor manifestDescriptor, List<Digest> manifests, ImageManifest manifest, List<string> names, ContentLease lease)
    {
        foreach (var blob in manifest.Layers.Select(l => l.Digest).Append(manifest.Config.Digest).Concat(manifests))
        {
            lease.Add(blob);
            if (!Content.Has(blob)) throw new ImageFormatException($"archive: blob {blob} of manifest {manifestDescriptor.Digest} is missing");
        }
        var config = ImageJson.ParseConfig(Content.ReadAllBytes(manifest.Config.Digest), manifest.Config.Digest);
        return new ImageRecord
        {
            Id = manifest.Config.Digest,
            ConfigMediaType = manifest.Config.MediaType,
            Manifest = manifestDescriptor,
            Manifests = manifests,
            Layers = manifest.Layers,
            RepoTags = names,
            Created = config.Created,
            Size = manifest.Layers.Sum(l => l.Size),
            Platform = new Platform { Os = config.Os, Architecture = config.Architecture, Variant = config.Variant },
        };
    }

    /// <summary>docker save: the images the references (or ids) name, as one tar with manifest.json and an OCI layout.</summary>
    public async Task SaveAsync(IReadOnlyList<string> refsOrIds, Stream output, CancellationToken cancellationToken = default)
    {
        var chosen = new List<(ImageRecord Image, List<string> Tags)>();
        using var lease = Content.Lease();
        foreach (var refOrId in refsOrIds)
        {
            var image = images.Resolve(refOrId, lease);
            // Saved by name, the image carries that name; saved by id, it carries none (as docker does).
            var tag = ImageReference.TryParse(refOrId, out var r) && image.RepoTags.Contains(r.ToString()) ? r.ToString() : null;
            var existing = chosen.FindIndex(c => c.Image.Id == image.Id);
            if (existing < 0) chosen.Add((image, tag is null ? [] : [tag]));
            else if (tag is not null && !chosen[existing].Tags.Contains(tag)) chosen[existing].Tags.Add(tag);
        }
        {
            await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
            var written = new HashSet<Digest>();
            var mtime = DateTimeOffset.UnixEpoch;
            await WriteDirectoryAsync(writer, "blobs/", cancellationToken).ConfigureAwait(false);
            await WriteDirectoryAsync(writer, "blobs/sha256/", cancellationToken).ConfigureAwait(false);
            foreach (var blob in chosen.SelectMany(c => c.Image.Blobs.Prepend(c.Image.Manifest.Digest)))
            {
                if (!written.Add(blob)) continue;
                await using var data = Content.OpenRead(blob);
                var entry = new PaxTarEntry(TarEntryType.RegularFile, $"blobs/sha256/{blob.Hex}")
                {
                    Mode = (UnixFileMode)0b110_100_100, ModificationTime = mtime, DataStream = data,
                };
                await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
            }
            var index = new ImageIndex
            {
                MediaType = MediaTypes.OciIndex,
                Manifests = [.. chosen.SelectMany(c => (c.Tags.Count == 0 ? [(string?)null] : c.Tags.Select(t => (string?)t)).Select(tag => c.Image.Manifest with
                {
                    Platform = null,
                    Annotations = tag is null ? null : new Dictionary<string, string>
                    {
                        [ContainerdNameAnnotation] = tag,
                        [RefNameAnnotation] = ImageReference.Parse(tag).Tag ?? ImageReference.DefaultTag,
                    },
                }))],
            };
            var dockerManifest = chosen.Select(c => new DockerArchiveEntry
            {
                Config = $"blobs/sha256/{c.Image.Id.Hex}",
                RepoTags = [.. c.Tags.Select(t => ImageReference.Parse(t).FamiliarString)],
                Layers = [.. c.Image.Layers.Select(l => $"blobs/sha256/{l.Digest.Hex}")],
            }).ToList();
            await WriteFileAsync(writer, "oci-layout", """{"imageLayoutVersion":"1.0.0"}"""u8.ToArray(), cancellationToken).ConfigureAwait(false);
            await WriteFileAsync(writer, "index.json", ImageJson.Serialize(index), cancellationToken).ConfigureAwait(false);
            await WriteFileAsync(writer, "manifest.json",
                JsonSerializer.SerializeToUtf8Bytes(dockerManifest, ImagesJsonContext.Default.ListDockerArchiveEntry), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// docker import: a rootfs tar (plain or gzip) becomes a one-layer image, tagged when a reference is given.
    /// <paramref name="prepare"/> runs before the image is recorded; when it or anything else fails, nothing is.
    /// </summary>
    public async Task<ImageRecord> ImportAsync(Stream rootfsTar, string? reference, ImageConfig? template = null,
        Func<ImageRecord, CancellationToken, Task>? prepare = null, CancellationToken cancellationToken = default)
    {
        var target = reference is null ? null : ImageStore.ParseTag(reference);
        using var lease = Content.Lease();
        var succeeded = false;
        try
        {
            var (layerDigest, layerSize) = await Content.WriteAsync(rootfsTar, null, lease, cancellationToken).ConfigureAwait(false);
            var compression = Sniff(layerDigest);
            if (compression == LayerCompression.Zstd) throw new ImageFormatException("import: zstd-compressed tars are not supported; give a plain or gzip tar");
            Digest diffId;
            await using (var blob = Content.OpenRead(layerDigest))
            await using (var tar = compression == LayerCompression.Gzip ? new GZipStream(blob, CompressionMode.Decompress) : (Stream)blob)
            {
                // Hash the uncompressed stream while checking it is a tar.
                using var hashing = new HashingReadStream(tar);
                using (var reader = new LayerTarReader(hashing, "tar"))
                    while (await NextEntryAsync(reader, "import", cancellationToken).ConfigureAwait(false) is not null) { }
                await hashing.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                diffId = hashing.Digest();
            }
            var now = DateTimeOffset.UtcNow;
            var config = (template ?? new ImageConfig { Architecture = "amd64", Os = "linux", RootFs = new RootFs() }) with
            {
                Created = now,
                RootFs = new RootFs { DiffIds = [diffId] },
                History = [new HistoryEntry { Created = now, Comment = "Imported from -", CreatedBy = "" }],
            };
            var configBytes = ImageJson.Serialize(config);
            var configDigest = Content.Write(configBytes, lease: lease);
            var layer = new Descriptor { MediaType = LayerMediaType(compression, oci: false), Digest = layerDigest, Size = layerSize };
            var manifest = new ImageManifest
            {
                MediaType = MediaTypes.DockerManifest,
                Config = new Descriptor { MediaType = MediaTypes.DockerConfig, Digest = configDigest, Size = configBytes.Length },
                Layers = [layer],
            };
            var manifestBytes = ImageJson.Serialize(manifest);
            var manifestDigest = Content.Write(manifestBytes, lease: lease);
            var record = Record(new Descriptor { MediaType = MediaTypes.DockerManifest, Digest = manifestDigest, Size = manifestBytes.Length },
                [manifestDigest], manifest, target is null ? [] : [target.ToString()], lease);
            if (prepare is not null) await prepare(record, cancellationToken).ConfigureAwait(false);
            var recorded = images.Put(record);
            succeeded = true;
            return recorded;
        }
        finally
        {
            lease.Dispose();
            if (!succeeded) images.DeleteUnreferenced(lease.Digests);
        }
    }

    /// <summary>
    /// The next entry of a tar the client sent; null at its end, which may come without tar's end-of-archive
    /// marker as docker allows. A stream that is no tar from its first header on is "not a tar archive"; one cut
    /// or corrupt later is refused naming the entry.
    /// </summary>
    private static async ValueTask<TarEntry?> NextEntryAsync(LayerTarReader reader, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.NextAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidLayerException e)
        {
            var cut = e.InnerException is EndOfStreamException;
            // TarReader's own reason follows ours: berthd runs with resource keys instead of .NET's message texts.
            if (reader.Count == 0)
                throw new ImageFormatException($"{what}: not a tar archive: {(cut ? e.Message : $"invalid tar header at the start ({e.InnerException?.Message})")}", e);
            throw new ImageFormatException($"{what}: {e.Message}", e);
        }
    }

    private byte[] ReadBlob(Digest digest, string what) =>
        Content.Has(digest) ? Content.ReadAllBytes(digest) : throw new ImageFormatException($"archive: {what} blob {digest} is missing");

    private LayerCompression Sniff(Digest blob)
    {
        Span<byte> head = stackalloc byte[4];
        using var stream = Content.OpenRead(blob);
        var n = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return LayerDecompression.Detect(head[..n]);
    }

    private static string LayerMediaType(LayerCompression compression, bool oci) => (compression, oci) switch
    {
        (LayerCompression.Gzip, false) => MediaTypes.DockerLayerGzip,
        (LayerCompression.None, false) => MediaTypes.DockerLayer,
        (LayerCompression.Gzip, true) => MediaTypes.OciLayerGzip,
        (LayerCompression.None, true) => MediaTypes.OciLayer,
        _ => MediaTypes.OciLayerZstd,
    };

    /// <summary>An archive member's path, relative and clean; ".." or an absolute path is refused.</summary>
    private static string Normalize(string name)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") throw new ImageFormatException($"archive member \"{name}\" leaves the archive");
            parts.Add(part);
        }
        if (name.StartsWith('/')) throw new ImageFormatException($"archive member \"{name}\" is an absolute path");
        return string.Join('/', parts);
    }

    private static string CombineLink(string name, string target)
    {
        if (target.StartsWith('/')) throw new ImageFormatException($"archive link \"{name}\" points to an absolute path");
        var slash = name.LastIndexOf('/');
        var dir = slash < 0 ? "" : name[..slash];
        var combined = new List<string>(dir.Split('/', StringSplitOptions.RemoveEmptyEntries));
        foreach (var part in target.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..")
            {
                if (combined.Count == 0) throw new ImageFormatException($"archive link \"{name}\" -> \"{target}\" leaves the archive");
                combined.RemoveAt(combined.Count - 1);
            }
            else combined.Add(part);
        }
        return string.Join('/', combined);
    }

    private static Task WriteDirectoryAsync(TarWriter writer, string name, CancellationToken cancellationToken) =>
        writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken);

    private static Task WriteFileAsync(TarWriter writer, string name, byte[] data, CancellationToken cancellationToken) =>
        writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch, DataStream = new MemoryStream(data),
        }, cancellationToken);

    /// <summary>Passes reads through, hashing every byte read.</summary>
    private sealed class HashingReadStream(Stream inner) : ReadOnlyForwardStream
    {
        private readonly System.Security.Cryptography.IncrementalHash _hash =
            System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);

        public Digest Digest() => Images.Digest.FromHash(_hash.GetHashAndReset());
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            _hash.AppendData(buffer, offset, n);
            return n;
        }
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            _hash.AppendData(buffer.Span[..n]);
            return n;
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        protected override void Dispose(bool disposing)
        {
            if (disposing) _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
