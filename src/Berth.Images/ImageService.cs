using Berth.Images.Registry;

namespace Berth.Images;

/// <summary>
/// The image side of berthd in one place: a content store and an image store under one root, a registry
/// client, and pull, push, list, inspect, tag and remove as docker's image commands do them.
/// Layout under the root: <c>content/</c> (blobs, ingest) and <c>images/images.json</c>.
/// </summary>
public sealed class ImageService : IDisposable
{
    private readonly RegistryClient _registry;

    public ImageService(string root, RegistryClientOptions? registryOptions = null)
    {
        Content = new ContentStore(Path.Combine(root, "content"));
        Images = new ImageStore(Path.Combine(root, "images"), Content);
        _registry = new RegistryClient(registryOptions);
    }

    public ContentStore Content { get; }
    public ImageStore Images { get; }
    public RegistryClient Registry => _registry;

    /// <summary>docker pull NAME[:TAG|@DIGEST].</summary>
    public Task<PullResult> PullAsync(string reference, PullOptions? options = null, CancellationToken cancellationToken = default) =>
        new ImagePuller(_registry, Images).PullAsync(ImageReference.Parse(reference), options, cancellationToken);

    /// <summary>docker push NAME[:TAG]: pushes the local image that reference names.</summary>
    public Task<PushResult> PushAsync(string reference, Action<ProgressEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        var target = ImageReference.Parse(reference);
        var image = Images.Resolve(reference);
        return new ImagePusher(_registry, Images).PushAsync(image, target, progress, cancellationToken);
    }

    /// <summary>docker images.</summary>
    public IReadOnlyList<ImageRecord> List() => Images.List();

    /// <summary>docker image inspect: the record and its config (throws <see cref="ImageNotFoundException"/>).</summary>
    public (ImageRecord Image, ImageConfig Config) Inspect(string refOrId)
    {
        var image = Images.Resolve(refOrId);
        return (image, ImageJson.ParseConfig(Content.ReadAllBytes(image.Id), image.Id));
    }

    /// <summary>The exact config bytes as stored (for an API that returns them unchanged).</summary>
    public byte[] ReadConfigBytes(ImageRecord image) => Content.ReadAllBytes(image.Id);

    /// <summary>docker tag SOURCE TARGET.</summary>
    public ImageRecord Tag(string source, string target) => Images.Tag(source, target);

    /// <summary>docker rmi [-f]: untags/deletes as dockerd, then frees the blobs nothing needs any longer.</summary>
    public IReadOnlyList<ImageDeleteResponse> Remove(string refOrId, bool force = false)
    {
        var records = Images.Remove(refOrId, force);
        if (records.Any(r => r.Deleted is not null)) Images.Collect();
        return records;
    }

    /// <summary>docker load: a docker save or OCI layout tar; <paramref name="prepare"/> runs for each image before any is recorded.</summary>
    public Task<IReadOnlyList<ImageRecord>> LoadAsync(Stream archive, Func<ImageRecord, CancellationToken, Task>? prepare = null,
        CancellationToken cancellationToken = default) =>
        new ImageArchive(Images).LoadAsync(archive, prepare, cancellationToken);

    /// <summary>docker save: one tar with manifest.json and an OCI layout.</summary>
    public Task SaveAsync(IReadOnlyList<string> refsOrIds, Stream output, CancellationToken cancellationToken = default) =>
        new ImageArchive(Images).SaveAsync(refsOrIds, output, cancellationToken);

    /// <summary>docker import: a rootfs tar (plain or gzip) as a one-layer image; <paramref name="prepare"/> runs before it is recorded.</summary>
    public Task<ImageRecord> ImportAsync(Stream rootfsTar, string? reference, Func<ImageRecord, CancellationToken, Task>? prepare = null,
        CancellationToken cancellationToken = default) =>
        new ImageArchive(Images).ImportAsync(rootfsTar, reference, null, prepare, cancellationToken);

    public void Dispose() => _registry.Dispose();
}
