namespace Berth.Images.Registry;

/// <summary>A layer handed to <see cref="PullOptions.UnpackLayer"/>, in order, once it and every layer below it are stored.</summary>
public sealed record LayerToUnpack(int Index, Descriptor Layer, Digest DiffId, string BlobPath, Action<long, long> ReportProgress);

public sealed record PullOptions
{
    /// <summary>Progress lines as dockerd prints them; called from several threads (one per layer).</summary>
    public Action<ProgressEvent>? Progress { get; init; }
    /// <summary>Runs per layer in order (snapshot unpacking) between "Download complete" and "Pull complete".</summary>
    public Func<LayerToUnpack, CancellationToken, Task>? UnpackLayer { get; init; }
}

/// <summary>What a pull stored: the image record, and the digests it came by.</summary>
public sealed record PullResult(ImageRecord Image, Digest ManifestDigest, Digest? IndexDigest, ImageManifest Manifest, ImageConfig Config, bool Downloaded)
{
    /// <summary>The digest the reference resolved to (the index when there was one): the repo digest docker shows.</summary>
    public Digest TopDigest => IndexDigest ?? ManifestDigest;
}

/// <summary>
/// Pulls an image into the content store: manifest (through an index for the configured platform),
/// config and layers, every blob verified as it is written; layers in parallel with resume after a
/// cut; then records the image and the blobs' source in the image store, in one step. Every blob is pinned before
/// the pull looks for it in the store; a pull that fails records nothing and deletes what it fetched.
/// </summary>
public sealed class ImagePuller(RegistryClient client, ImageStore images)
{
    private const int MaxConfigBytes = 8 << 20;
    private ContentStore Content => images.Content;

    public async Task<PullResult> PullAsync(ImageReference reference, PullOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PullOptions();
        var progress = options.Progress ?? (_ => { });
        if (reference.Digest is null && reference.Tag is not null) ImageStore.CheckTag(reference, reference.FamiliarString);
        using var lease = Content.Lease();
        var succeeded = false;
        try
        {
            var top = await client.GetManifestAsync(reference, reference.RegistryReference, cancellationToken).ConfigureAwait(false);
            var manifestBlob = top;
            Digest? indexDigest = null;
            if (MediaTypes.IsIndex(top.MediaType))
            {
                var index = ImageJson.ParseIndex(top.Bytes, top.Digest);
                var chosen = PlatformMatcher.Select(index, client.Options.Platform, reference.FamiliarString);
                manifestBlob = await client.GetManifestAsync(reference, chosen.Digest.ToString(), cancellationToken).ConfigureAwait(false);
                if (manifestBlob.Bytes.Length != chosen.Size)
                    throw new BlobSizeException(chosen.Digest, chosen.Size, manifestBlob.Bytes.Length, atLeast: false);
                indexDigest = top.Digest;
            }
            else if (!MediaTypes.IsManifest(top.MediaType))
            {
                throw new RegistryException($"{reference.FamiliarString}: unsupported manifest media type {top.MediaType}");
            }
            var manifest = ImageJson.ParseManifest(manifestBlob.Bytes, manifestBlob.Digest);
            Validate(reference, manifest, manifestBlob.Digest);
            progress(new ProgressEvent(reference.Tag ?? reference.Digest?.ToString(), ProgressStatus.PullingFrom(reference.Path)));

            lease.AddRange(manifest.Layers.Select(l => l.Digest).Append(manifest.Config.Digest).Append(manifestBlob.Digest).Append(top.Digest));

            var hadConfig = Content.Has(manifest.Config.Digest);
            var configBytes = hadConfig
                ? Content.ReadAllBytes(manifest.Config.Digest)
                : await FetchConfigAsync(reference, manifest.Config, cancellationToken).ConfigureAwait(false);
            var config = ImageJson.ParseConfig(configBytes, manifest.Config.Digest);
            if (config.RootFs.DiffIds.Count != manifest.Layers.Count)
                throw new ImageFormatException(
                    $"{reference.FamiliarString}: config {manifest.Config.Digest} lists {config.RootFs.DiffIds.Count} diff_ids for {manifest.Layers.Count} layers in manifest {manifestBlob.Digest}");

            var downloaded = await DownloadLayersAsync(reference, manifest, config, options, progress, cancellationToken).ConfigureAwait(false);

            // Manifests go in last: a stored manifest means its blobs are all there.
            var manifestExisted = Content.Has(manifestBlob.Digest);
            Content.Write(manifestBlob.Bytes, manifestBlob.Digest, lease);
            if (indexDigest is { } id) Content.Write(top.Bytes, id, lease);

            var image = images.Add([new ImageRecord
            {
                Id = manifest.Config.Digest,
                ConfigMediaType = manifest.Config.MediaType,
                Manifest = manifestBlob.Descriptor,
                Manifests = indexDigest is { } i ? [i, manifestBlob.Digest] : [manifestBlob.Digest],
                Layers = manifest.Layers,
                RepoTags = reference.Digest is null && reference.Tag is not null ? [reference.ToString()] : [],
                RepoDigests = [reference.NameOnly().WithDigest(top.Digest).ToString()],
                Created = config.Created,
                Size = manifest.Layers.Sum(l => l.Size),
                Platform = new Platform { Os = config.Os, Architecture = config.Architecture, Variant = config.Variant },
            }], new BlobSources([.. manifest.Layers.Select(l => l.Digest).Append(manifest.Config.Digest)], reference.Name))[0];

            var fresh = downloaded || !hadConfig || !manifestExisted;
            progress(new ProgressEvent(null, ProgressStatus.DigestLine(top.Digest)));
            progress(new ProgressEvent(null, fresh ? ProgressStatus.DownloadedNewer(reference.FamiliarString) : ProgressStatus.UpToDate(reference.FamiliarString)));
            succeeded = true;
            return new PullResult(image, manifestBlob.Digest, indexDigest, manifest, config, fresh);
        }
        finally
        {
            lease.Dispose();
            // A failed pull leaves nothing behind: blobs (and partial data) it fetched that no image uses go.
            if (!succeeded) images.DeleteUnreferenced(lease.Digests);
        }
    }

    private static void Validate(ImageReference reference, ImageManifest manifest, Digest digest)
    {
        if (!MediaTypes.IsConfig(manifest.Config.MediaType))
            throw new ImageFormatException($"{reference.FamiliarString}: manifest {digest} has config media type {manifest.Config.MediaType}, which is not a container image");
        foreach (var layer in manifest.Layers)
        {
            if (MediaTypes.LayerCompressionOf(layer.MediaType) is null)
                throw new ImageFormatException($"{reference.FamiliarString}: layer {layer.Digest} has unsupported media type {layer.MediaType}");
            if (MediaTypes.IsForeignLayer(layer.MediaType))
                throw new ImageFormatException($"{reference.FamiliarString}: layer {layer.Digest} is a foreign layer ({layer.MediaType}), which berth does not fetch");
        }
    }

    private async Task<byte[]> FetchConfigAsync(ImageReference reference, Descriptor config, CancellationToken cancellationToken)
    {
        if (config.Size > MaxConfigBytes)
            throw new ImageFormatException($"{reference.FamiliarString}: config {config.Digest} of {config.Size} bytes is over the {MaxConfigBytes}-byte limit");
        await DownloadBlobAsync(reference, config, null, cancellationToken).ConfigureAwait(false);
        return Content.ReadAllBytes(config.Digest);
    }

    /// <summary>Downloads the missing layers (bounded parallelism) and runs the unpack hook in layer order; true when anything was downloaded.</summary>
    private async Task<bool> DownloadLayersAsync(ImageReference reference, ImageManifest manifest, ImageConfig config, PullOptions options,
        Action<ProgressEvent> progress, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(client.Options.MaxConcurrentDownloads);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var seen = new HashSet<Digest>();
        var missing = new List<Digest>();
        foreach (var layer in manifest.Layers)
        {
            if (!seen.Add(layer.Digest)) continue;
            if (Content.Has(layer.Digest)) progress(new ProgressEvent(layer.Digest.Short, ProgressStatus.AlreadyExists));
            else
            {
                missing.Add(layer.Digest);
                progress(new ProgressEvent(layer.Digest.Short, ProgressStatus.PullingFsLayer));
            }
        }
        // Layers beyond the first N wait for a download slot, as dockerd reports them.
        foreach (var digest in missing.Skip(client.Options.MaxConcurrentDownloads))
            progress(new ProgressEvent(digest.Short, ProgressStatus.Waiting));
        var started = new Dictionary<Digest, Task<bool>>();
        foreach (var layer in manifest.Layers)
            if (missing.Contains(layer.Digest) && !started.ContainsKey(layer.Digest))
                started[layer.Digest] = DownloadLayerAsync(reference, layer, gate, progress, failed);
        var tasks = manifest.Layers
            .Select((layer, i) => started.TryGetValue(layer.Digest, out var t) && manifest.Layers.FindIndexOf(layer.Digest) == i ? t : Task.FromResult(false))
            .ToList();

        var any = false;
        try
        {
            for (var i = 0; i < manifest.Layers.Count; i++)
            {
                var layer = manifest.Layers[i];
                var wasDownloaded = await tasks[i].ConfigureAwait(false);
                any |= wasDownloaded;
                if (options.UnpackLayer is { } unpack)
                {
                    var id = layer.Digest.Short;
                    await unpack(new LayerToUnpack(i, layer, config.RootFs.DiffIds[i], Content.PathOf(layer.Digest),
                        (current, total) => progress(new ProgressEvent(id, ProgressStatus.Extracting, current, total))), cancellationToken).ConfigureAwait(false);
                }
                if (wasDownloaded) progress(new ProgressEvent(layer.Digest.Short, ProgressStatus.PullComplete));
            }
        }
        catch (Exception error)
        {
            await failed.CancelAsync().ConfigureAwait(false);
            try { await Task.WhenAll(started.Values).ConfigureAwait(false); } catch (Exception) { /* reported below */ }
            // The layer awaited first may only have been cancelled because another one failed (a digest mismatch,
            // a 401): report the failure that caused it, not the cancellation.
            if (error is OperationCanceledException && !cancellationToken.IsCancellationRequested
                && started.Values.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException) is { } cause)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            throw;
        }
        return any;
    }

    private async Task<bool> DownloadLayerAsync(ImageReference reference, Descriptor layer, SemaphoreSlim gate, Action<ProgressEvent> progress,
        CancellationTokenSource failed)
    {
        await gate.WaitAsync(failed.Token).ConfigureAwait(false);
        try
        {
            var status = await DownloadBlobAsync(reference, layer, progress, failed.Token).ConfigureAwait(false);
            progress(new ProgressEvent(layer.Digest.Short, ProgressStatus.DownloadComplete));
            return status != IngestStatus.AlreadyExists;
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Downloads one blob through the content store (shared with any concurrent pull of the same blob),
    /// resuming with a Range request after a cut transfer, retrying transient failures with backoff.
    /// </summary>
    internal Task<IngestStatus> DownloadBlobAsync(ImageReference reference, Descriptor blob, Action<ProgressEvent>? progress, CancellationToken cancellationToken) =>
        Content.IngestAsync(blob.Digest, blob.Size, async (writer, ct) =>
        {
            var id = blob.Digest.Short;
            var lastReport = -1L;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (writer.Offset < blob.Size)
                    {
                        using var response = await client.GetBlobAsync(reference, blob.Digest, writer.Offset, ct).ConfigureAwait(false);
                        if (writer.Offset > 0 && response.StatusCode != System.Net.HttpStatusCode.PartialContent) writer.Reset();
                        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                        await writer.CopyFromAsync(body, offset =>
                        {
                            // dockerd reports every 512 KiB or so; a line per read would flood the client.
                            if (progress is null || (offset - lastReport < 512 * 1024 && offset != blob.Size)) return;
                            lastReport = offset;
                            progress(new ProgressEvent(id, ProgressStatus.Downloading, offset, blob.Size));
                        }, ct).ConfigureAwait(false);
                        if (writer.Offset < blob.Size)
                            throw new IOException($"blob {blob.Digest}: transfer ended after {writer.Offset} of {blob.Size} bytes");
                    }
                    break;
                }
                catch (Exception e) when (RegistryClient.IsTransient(e, ct) && attempt < client.Options.MaxAttempts)
                {
                    progress?.Invoke(new ProgressEvent(id, ProgressStatus.Retrying));
                    await Task.Delay(client.Backoff(attempt), ct).ConfigureAwait(false);
                }
                catch (Exception e) when (RegistryClient.IsTransient(e, ct))
                {
                    writer.Discard();
                    throw new RegistryException($"pulling {reference.FamiliarString}: blob {blob.Digest}: gave up after {attempt} attempts: {e.Message}; nothing was stored", null, e);
                }
            }
            progress?.Invoke(new ProgressEvent(id, ProgressStatus.VerifyingChecksum));
            try
            {
                writer.Commit();
            }
            catch (DigestMismatchException e)
            {
                throw new DigestMismatchException(e.Expected, e.Actual, $"blob {blob.Digest} of {reference.Name}");
            }
        }, cancellationToken);
}

internal static class DescriptorListExtensions
{
    public static int FindIndexOf(this IReadOnlyList<Descriptor> list, Digest digest)
    {
        for (var i = 0; i < list.Count; i++)
            if (list[i].Digest == digest) return i;
        return -1;
    }
}
