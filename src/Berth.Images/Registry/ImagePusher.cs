namespace Berth.Images.Registry;

/// <summary>What a push sent: the manifest digest and size under the pushed tag.</summary>
public sealed record PushResult(ImageReference Target, Digest ManifestDigest, long ManifestSize);

/// <summary>
/// Pushes an image: each blob is checked with HEAD (and skipped when present), mounted from another
/// repository of the same registry when the image store knows one that has it, or uploaded in one PUT;
/// then the manifest is PUT with its media type.
/// </summary>
public sealed class ImagePusher(RegistryClient client, ImageStore images)
{
    public async Task<PushResult> PushAsync(ImageRecord image, ImageReference target, Action<ProgressEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= _ => { };
        if (target.Digest is not null)
            throw new ReferenceException(target.ToString(), "cannot push to a digest reference");
        var content = images.Content;
        // Its blobs pinned in the same step as the image is found again: an rmi running now cannot collect them mid-push.
        using var lease = content.Lease();
        image = images.Resolve(image.Id.ToString(), lease);
        var manifestBytes = content.ReadAllBytes(image.Manifest.Digest);
        var manifest = ImageJson.ParseManifest(manifestBytes, image.Manifest.Digest);
        progress(new ProgressEvent(null, ProgressStatus.PushRefersTo(target.NameOnly().FamiliarName)));

        var layers = manifest.Layers.Where(l => !MediaTypes.IsForeignLayer(l.MediaType)).DistinctBy(l => l.Digest).ToList();
        foreach (var layer in layers)
        {
            if (!content.Has(layer.Digest))
                throw new BlobNotFoundException(layer.Digest);
            progress(new ProgressEvent(layer.Digest.Short, ProgressStatus.Preparing));
        }
        using var gate = new SemaphoreSlim(client.Options.MaxConcurrentUploads);
        var uploads = layers.Select(async layer =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await PushBlobAsync(target, layer, progress, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(uploads).ConfigureAwait(false);
        await PushBlobAsync(target, manifest.Config, null, cancellationToken).ConfigureAwait(false);

        var tag = target.Tag ?? ImageReference.DefaultTag;
        var digest = await client.PutManifestAsync(target, tag, manifestBytes, image.Manifest.MediaType, cancellationToken).ConfigureAwait(false);
        images.AddSources(layers.Select(l => l.Digest).Append(manifest.Config.Digest), target.Name);
        images.AddRepoDigest(image.Id, target, digest);
        progress(new ProgressEvent(null, ProgressStatus.PushedDigest(tag, digest, manifestBytes.Length)));
        return new PushResult(target, digest, manifestBytes.Length);
    }

    private async Task PushBlobAsync(ImageReference target, Descriptor blob, Action<ProgressEvent>? progress, CancellationToken cancellationToken)
    {
        var id = blob.Digest.Short;
        if (await client.HasBlobAsync(target, blob.Digest, RegistryClient.PushScope(target), cancellationToken).ConfigureAwait(false))
        {
            progress?.Invoke(new ProgressEvent(id, ProgressStatus.LayerAlreadyExists));
            return;
        }
        Uri? uploadUrl = null;
        foreach (var source in images.Sources(blob.Digest))
        {
            var from = ImageReference.ParseNormalized(source);
            if (from.Domain != target.Domain || from.Path == target.Path) continue;
            var (mounted, url) = await client.MountBlobAsync(target, blob.Digest, from.Path, cancellationToken).ConfigureAwait(false);
            if (mounted)
            {
                progress?.Invoke(new ProgressEvent(id, ProgressStatus.MountedFrom(from.FamiliarName)));
                return;
            }
            uploadUrl = url; // the registry opened an upload instead: use it
            break;
        }
        var size = images.Content.Size(blob.Digest) ?? throw new BlobNotFoundException(blob.Digest);
        var lastReport = -1L;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await client.UploadBlobAsync(target, blob.Digest, size, () => images.Content.OpenRead(blob.Digest), sent =>
                {
                    if (progress is null || (sent - lastReport < 512 * 1024 && sent != size)) return;
                    lastReport = sent;
                    progress(new ProgressEvent(id, ProgressStatus.Pushing, sent, size));
                }, uploadUrl, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (RegistryClient.IsTransient(e, cancellationToken) && attempt < client.Options.MaxAttempts)
            {
                uploadUrl = null; // a failed upload session cannot be reused: open a new one
                lastReport = -1;
                await Task.Delay(client.Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
        progress?.Invoke(new ProgressEvent(id, ProgressStatus.Pushed));
    }
}
