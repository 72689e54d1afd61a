using System.Text.Json;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Images;
using Berth.Images.Registry;
using Berth.Snapshots;

namespace Berth.Daemon.Images;

/// <summary>
/// The image endpoints over the image library: content and image store under <c>&lt;data-root&gt;/image</c>,
/// layer snapshots under <c>&lt;data-root&gt;/snapshots</c>. Pulled, loaded and imported images are unpacked
/// into snapshots before they are recorded, so an image whose unpack fails is never recorded and its tag never
/// moves; rmi frees the blobs and snapshots nothing needs any longer.
/// Registry credentials: the request's X-Registry-Auth when it carries any, else the docker config.json
/// (<c>$DOCKER_CONFIG/config.json</c> or <c>~/.docker/config.json</c>, read per request so a login applies at once).
/// </summary>
public sealed class ImageBackend : IImageBackend, IDisposable
{
    readonly ImageService _service;
    readonly ImageSnapshots _snapshots;
    readonly Func<RegistryClientOptions> _registryOptions;

    /// <param name="registryOptions">Base registry options per request (tests pass insecure registries or a handler); credentials and platform are set per request.</param>
    public ImageBackend(string dataRoot, Func<RegistryClientOptions>? registryOptions = null)
    {
        _service = new ImageService(Path.Combine(dataRoot, "image"));
        _snapshots = new ImageSnapshots(new SnapshotStore(Path.Combine(dataRoot, "snapshots")), _service);
        _registryOptions = registryOptions ?? (() => new RegistryClientOptions());
        // Snapshots of a pull cut short by a crash have no image: the data-root lock says no one else uses them.
        _snapshots.Collect();
    }

    public ImageService Service => _service;
    public SnapshotStore Snapshots => _snapshots.Store;

    public Task<int> CountAsync(CancellationToken ct) => Task.FromResult(_service.List().Count);

    public async Task PullAsync(string image, string? tag, string? platform, AuthConfig? auth, IProgressSink progress, CancellationToken ct)
    {
        var reference = ImageErrors.Map(() => ImageReference.Parse(WithTag(image, tag)));
        var wanted = ParsePlatform(platform);
        using var registry = ImageErrors.Map(() => new RegistryClient(RegistryOptions(reference.Domain, auth, wanted)));
        var relay = new ProgressRelay(progress, ct);
        using var session = _snapshots.Session();
        string? parent = null;
        try
        {
            await ImageErrors.Map(() => new ImagePuller(registry, _service.Images).PullAsync(reference, new PullOptions
            {
                Progress = relay.Report,
                UnpackLayer = async (layer, _) => parent = await session.UnpackLayerAsync(parent, layer.DiffId, layer.BlobPath, layer.ReportProgress),
            }, ct));
            session.Complete();
        }
        finally
        {
            await DrainAsync(relay);
        }
        // dockerd names a pull by the reference as the client wrote it, and its repository.
        Events?.PublishImage("pull", reference.FamiliarString, reference.FamiliarName);
    }

    public async Task PushAsync(string name, string? tag, AuthConfig? auth, IProgressSink progress, CancellationToken ct)
    {
        var reference = ImageErrors.Map(() => ImageReference.Parse(WithTag(name, tag)));
        // No tag anywhere: every tag of the repository, as dockerd pushes them.
        List<ImageReference> targets = tag is null && !HasTagOrDigest(name)
            ? [.. _service.List().SelectMany(i => i.RepoTags).Select(ImageReference.ParseNormalized)
                .Where(r => r.Name == reference.Name).OrderBy(r => r.Tag, StringComparer.Ordinal)]
            : [reference];
        if (targets.Count == 0 || !_service.Images.TryResolve(targets[0].ToString(), out _))
            throw ApiException.NotFound($"An image does not exist locally with the tag: {reference.NameOnly().FamiliarName}");
        using var registry = ImageErrors.Map(() => new RegistryClient(RegistryOptions(reference.Domain, auth, null)));
        var relay = new ProgressRelay(progress, ct);
        try
        {
            foreach (var target in targets)
            {
                var image = ImageErrors.Map(() => _service.Images.Resolve(target.ToString()));
                var result = await ImageErrors.Map(() => new ImagePusher(registry, _service.Images).PushAsync(image, target, relay.Report, ct));
                var aux = new Berth.Api.PushResult { Tag = target.Tag ?? "", Digest = result.ManifestDigest.ToString(), Size = result.ManifestSize };
                relay.Report(new JsonMessage { ProgressDetail = new ProgressDetail(), Aux = JsonSerializer.SerializeToElement(aux, ApiJson.Context.PushResult) });
            }
        }
        finally
        {
            await DrainAsync(relay);
        }
    }

    public Task<IReadOnlyList<ImageSummary>> ListAsync(bool all, ApiFilters filters, CancellationToken ct)
    {
        foreach (var key in filters.Keys)
            if (key is not ("dangling" or "reference" or "label"))
                throw ApiException.BadRequest($"invalid filter '{key}'");
        var dangling = filters.Get("dangling");
        if (dangling.Count > 1 || dangling.Any(v => v is not ("true" or "false" or "1" or "0")))
            throw ApiException.BadRequest($"invalid filter 'dangling={string.Join(",", dangling)}'");
        bool? wantDangling = dangling.Count == 0 ? null : dangling.First() is "true" or "1";
        var references = filters.Get("reference");
        var labels = filters.Get("label");
        var result = new List<ImageSummary>();
        foreach (var image in _service.List().OrderByDescending(i => i.Created ?? i.Added))
        {
            var config = Config(image);
            if (wantDangling is { } d && d != (image.RepoTags.Count == 0)) continue;
            if (references.Count > 0 && !image.FamiliarRepoTags.Any(t => references.Any(p => ReferenceMatches(p, t)))) continue;
            if (labels.Count > 0 && !labels.All(l => LabelMatches(l, config.Config?.Labels))) continue;
            result.Add(ImageApiModels.Summary(image, config, LayerSizes(image, config).Sum()));
        }
        return Task.FromResult<IReadOnlyList<ImageSummary>>(result);
    }

    public Task<ImageInspect> InspectAsync(string name, CancellationToken ct)
    {
        var (image, config) = ImageErrors.Map(() => _service.Inspect(name));
        var chain = ImageSnapshots.ChainIds(config);
        IReadOnlyList<string> dirs = chain.Count > 0 && _snapshots.Store.Exists(chain[^1]) ? _snapshots.Store.LowerDirs(chain[^1]) : [];
        return Task.FromResult(ImageApiModels.Inspect(image, config, LayerSizes(image, config).Sum(), dirs));
    }

    public Task<IReadOnlyList<ImageHistoryItem>> HistoryAsync(string name, CancellationToken ct)
    {
        var (image, config) = ImageErrors.Map(() => _service.Inspect(name));
        return Task.FromResult<IReadOnlyList<ImageHistoryItem>>(ImageApiModels.History(image, config, LayerSizes(image, config)));
    }

    /// <summary>
    /// Each layer's size as dockerd reports it: the bytes unpacked, not the compressed blob. A layer without its
    /// snapshot (an image recorded but not unpacked) falls back to its blob's size.
    /// </summary>
    IReadOnlyList<long> LayerSizes(ImageRecord image, Berth.Images.ImageConfig config)
    {
        var chain = ImageSnapshots.ChainIds(config);
        var sizes = new long[chain.Count];
        for (int i = 0; i < chain.Count; i++)
            sizes[i] = _snapshots.Store.Exists(chain[i]) ? _snapshots.Store.ContentSize(chain[i])
                : i < image.Layers.Count ? image.Layers[i].Size : 0;
        return sizes;
    }

    public Task TagAsync(string name, string repository, string? tag, CancellationToken ct)
    {
        string target = WithTag(repository, tag);
        ImageErrors.Map(() => _service.Tag(name, target));
        if (Events is { } events && _service.Images.TryResolve(target, out var image))
            events.PublishImage("tag", image.Id.ToString(), ImageReference.ParseNormalized(target).FamiliarString);
        return Task.CompletedTask;
    }

    /// <remarks>noprune has nothing to act on: berth keeps no parent images, so there are no untagged parents to prune.</remarks>
    public Task<IReadOnlyList<ImageDeleteResponseItem>> RemoveAsync(string name, bool force, bool noPrune, CancellationToken ct)
    {
        RefuseInUse(name, force);
        string? id = _service.Images.TryResolve(name, out var image) ? image.Id.ToString() : null;
        var records = ImageErrors.Map(() => _service.Remove(name, force));
        if (records.Any(r => r.Deleted is not null)) _snapshots.Collect();
        // dockerd names both by the image id.
        foreach (var r in records)
            if ((r.Deleted ?? id) is { } subject) Events?.PublishImage(r.Deleted is null ? "untag" : "delete", subject, subject);
        return Task.FromResult<IReadOnlyList<ImageDeleteResponseItem>>(
            [.. records.Select(r => r.Deleted is not null ? ImageDeleteResponseItem.ForDeleted(r.Deleted) : ImageDeleteResponseItem.ForUntagged(r.Untagged!))]);
    }

    public async Task LoadAsync(Stream tar, bool quiet, IProgressSink progress, CancellationToken ct)
    {
        IReadOnlyList<ImageRecord> loaded;
        using (var session = _snapshots.Session())
        {
            loaded = await ImageErrors.Map(() => _service.LoadAsync(tar, session.UnpackImageAsync, ct));
            session.Complete();
        }
        // dockerd answers each loaded name as a "stream" line, quiet or not (quiet only drops progress bars).
        foreach (var image in loaded)
        {
            Events?.PublishImage("load", image.Id.ToString(), image.Id.ToString());
            var names = image.FamiliarRepoTags.ToList();
            if (names.Count == 0) await progress.WriteAsync(new JsonMessage { Stream = $"Loaded image ID: {image.Id}\n" }, ct);
            foreach (var n in names) await progress.WriteAsync(new JsonMessage { Stream = $"Loaded image: {n}\n" }, ct);
        }
    }

    public async Task SaveAsync(IReadOnlyList<string> names, Stream output, CancellationToken ct)
    {
        // Every name resolved before the first byte, so an unknown one is still a plain 404.
        foreach (var n in names) ImageErrors.Map(() => _service.Images.Resolve(n));
        await ImageErrors.Map(async () => { await _service.SaveAsync(names, output, ct); return true; });
    }

    public async Task<string> ImportAsync(Stream tar, string? repository, string? tag, IReadOnlyList<string> changes, string? message,
        IProgressSink progress, CancellationToken ct)
    {
        if (changes.Count > 0)
            throw ApiException.NotImplemented($"import --change is not supported by berthd (got {string.Join("; ", changes)})");
        if (message is not null)
            throw ApiException.NotImplemented("import --message is not supported by berthd");
        string? reference = repository is null ? null : WithTag(repository, tag);
        if (reference is not null) ImageErrors.Map(() => ImageStore.ParseTag(reference));
        using var session = _snapshots.Session();
        var image = await ImageErrors.Map(() => _service.ImportAsync(tar, reference, session.UnpackImageAsync, ct));
        session.Complete();
        Events?.PublishImage("import", image.Id.ToString(), image.Id.ToString());
        return image.Id.ToString();
    }

    /// <summary>Where pull, tag, untag, delete, load and import are published as dockerd's image events; null publishes nothing.</summary>
    public Berth.Daemon.Events.EventBus? Events { get; set; }

    /// <summary>An image's id by reference or id, or null when there is none.</summary>
    public string? TryResolveId(string reference) => _service.Images.TryResolve(reference, out var image) ? image.Id.ToString() : null;

    /// <summary>The container using an image id, as (short container id, running), or null: set by the daemon's containers.</summary>
    public Func<string, (string ShortId, bool Running)?>? ContainerUsing { get; set; }

    /// <summary>
    /// dockerd's 409s for an rmi that would delete an image a container was created from. An untag that leaves the
    /// image other tags goes through. (dockerd's -f untags a name and keeps the image; Berth cannot untag alone yet,
    /// so -f on the last name is refused too, never deleting an image in use.)
    /// </summary>
    void RefuseInUse(string name, bool force)
    {
        if (ContainerUsing is not { } lookup || !_service.Images.TryResolve(name, out var image)) return;
        if (lookup(image.Id.ToString()) is not { } user) return;
        string imageShort = image.Id.ToString()["sha256:".Length..][..12];
        string hex = name.StartsWith("sha256:", StringComparison.Ordinal) ? name["sha256:".Length..] : name;
        bool byId = hex.Length > 0 && image.Id.ToString()["sha256:".Length..].StartsWith(hex, StringComparison.Ordinal);
        if (byId)
        {
            if (user.Running)
                throw ApiException.Conflict($"conflict: unable to delete {imageShort} (cannot be forced) - image is being used by running container {user.ShortId}");
            throw ApiException.Conflict($"conflict: unable to delete {imageShort} (must be forced) - image is being used by stopped container {user.ShortId}");
        }
        if (image.RepoTags.Count > 1) return;
        throw ApiException.Conflict($"conflict: unable to remove repository reference \"{name}\" (must force) - container {user.ShortId} is using its referenced image {imageShort}");
    }

    /// <summary>An image as a container needs it: its id, its config in the API's shape, and its layers' chain ids (bottom first).</summary>
    public ContainerImage ResolveForContainer(string name)
    {
        var (image, config) = ImageErrors.Map(() => _service.Inspect(name));
        return new ContainerImage(image.Id.ToString(), ImageApiModels.ContainerConfig(config.Config), ImageSnapshots.ChainIds(config));
    }

    /// <summary>The snapshot directories of a chain, top first (an overlay's lowerdir order).</summary>
    public IReadOnlyList<string> LowerDirs(IReadOnlyList<string> chainIds) => chainIds.Count == 0 ? [] : _snapshots.Store.LowerDirs(chainIds[^1]);

    /// <summary>Keeps a chain's snapshots from being collected until disposed (a container exists on them).</summary>
    public IDisposable HoldLayers(IReadOnlyList<string> chainIds) => _snapshots.Hold(chainIds);

    public void Dispose() => _service.Dispose();

    Berth.Images.ImageConfig Config(ImageRecord image) => ImageJson.ParseConfig(_service.ReadConfigBytes(image), image.Id);

    RegistryClientOptions RegistryOptions(string domain, AuthConfig? auth, Platform? platform)
    {
        var options = _registryOptions();
        var credentials = auth is { IsEmpty: false } ? CredentialStore.ForRegistry(domain, Credentials(auth), AuthConfig.HeaderName)
            : CredentialStore.Load();
        return options with { Credentials = credentials, Platform = platform ?? options.Platform };
    }

    static RegistryCredentials Credentials(AuthConfig auth)
    {
        if (auth.IdentityToken is not null || auth.RegistryToken is not null)
            throw ApiException.BadRequest($"{AuthConfig.HeaderName}: identity and registry tokens are not supported by berthd; send a username and password");
        if (auth.Username is not null) return new RegistryCredentials(auth.Username, auth.Password ?? "");
        string decoded;
        try
        {
            decoded = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(auth.Auth!));
        }
        catch (FormatException)
        {
            throw ApiException.BadRequest($"{AuthConfig.HeaderName}: auth is not base64");
        }
        int colon = decoded.IndexOf(':');
        if (colon < 0) throw ApiException.BadRequest($"{AuthConfig.HeaderName}: auth is not base64 of \"user:password\"");
        return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..]);
    }

    /// <summary>os[/arch[/variant]]; only Linux images run here.</summary>
    static Platform? ParsePlatform(string? text)
    {
        if (text is null) return null;
        var parts = text.ToLowerInvariant().Split('/');
        if (parts.Length > 3 || parts.Any(p => p.Length == 0))
            throw ApiException.BadRequest($"invalid platform \"{text}\": expected os[/arch[/variant]]");
        if (parts[0] != "linux")
            throw ApiException.BadRequest($"platform \"{text}\": berthd runs only linux images");
        return new Platform
        {
            Os = "linux",
            Architecture = parts.Length > 1 ? parts[1] : PlatformMatcher.Default.Architecture,
            Variant = parts.Length > 2 ? parts[2] : null,
        };
    }

    /// <summary>fromImage with the tag parameter: a digest joins with '@', a tag with ':'.</summary>
    static string WithTag(string image, string? tag) =>
        string.IsNullOrEmpty(tag) ? image : tag.Contains(':') ? $"{image}@{tag}" : $"{image}:{tag}";

    static bool HasTagOrDigest(string name)
    {
        if (name.Contains('@')) return true;
        int slash = name.LastIndexOf('/');
        return name.IndexOf(':', slash + 1) >= 0;
    }

    /// <summary>docker's reference filter: a glob on the familiar name, with or without the tag.</summary>
    static bool ReferenceMatches(string pattern, string familiarTag)
    {
        var regex = "^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]") + "$";
        string name = familiarTag[..familiarTag.LastIndexOf(':')];
        return System.Text.RegularExpressions.Regex.IsMatch(familiarTag, regex) || System.Text.RegularExpressions.Regex.IsMatch(name, regex);
    }

    static bool LabelMatches(string filter, IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null) return false;
        int eq = filter.IndexOf('=');
        return eq < 0 ? labels.ContainsKey(filter) : labels.TryGetValue(filter[..eq], out var v) && v == filter[(eq + 1)..];
    }

    static async Task DrainAsync(ProgressRelay relay)
    {
        try
        {
            await relay.CompleteAsync();
        }
        catch (OperationCanceledException)
        {
            // The client went away: nothing more to write.
        }
    }
}

/// <summary>What a container takes from its image: the id, the config in the API's shape, and the layers' chain ids (bottom first).</summary>
public sealed record ContainerImage(string Id, Berth.Api.ContainerConfig Config, IReadOnlyList<string> ChainIds);
