using System.Text;

namespace Berth.Images.Tests;

public class ImageStoreTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ContentStore _content;
    private readonly ImageStore _images;

    public ImageStoreTests()
    {
        _content = new ContentStore(Path.Combine(_dir.Path, "content"));
        _images = new ImageStore(Path.Combine(_dir.Path, "images"), _content);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Stores a one-layer image (layer, config, manifest blobs) and records it with the given tags.</summary>
    private ImageRecord AddImage(string seed, params string[] tags)
    {
        var layer = _content.Write(Encoding.UTF8.GetBytes("layer " + seed));
        var shared = _content.Write("shared base layer"u8);
        var config = new ImageConfig
        {
            Architecture = "amd64", Os = "linux",
            RootFs = new RootFs { DiffIds = [shared, layer] },
            Config = new ContainerConfig { Cmd = [seed] },
        };
        var configBytes = ImageJson.Serialize(config);
        var configDigest = _content.Write(configBytes);
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest, Size = configBytes.Length },
            Layers =
            [
                new Descriptor { MediaType = MediaTypes.OciLayer, Digest = shared, Size = 17 },
                new Descriptor { MediaType = MediaTypes.OciLayer, Digest = layer, Size = 6 + seed.Length },
            ],
        };
        var manifestBytes = ImageJson.Serialize(manifest);
        var manifestDigest = _content.Write(manifestBytes);
        return _images.Put(new ImageRecord
        {
            Id = configDigest,
            Manifest = new Descriptor { MediaType = MediaTypes.OciManifest, Digest = manifestDigest, Size = manifestBytes.Length },
            Manifests = [manifestDigest],
            Layers = manifest.Layers,
            RepoTags = [.. tags.Select(t => ImageReference.Parse(t).ToString())],
            RepoDigests = [.. tags.Select(t => ImageReference.Parse(t).NameOnly().WithDigest(manifestDigest).ToString()).Distinct()],
        });
    }

    [Fact]
    public void Resolves_by_name_full_id_hex_id_and_prefix()
    {
        var image = AddImage("a", "busybox");
        Assert.Equal(image.Id, _images.Resolve("busybox").Id);
        Assert.Equal(image.Id, _images.Resolve("busybox:latest").Id);
        Assert.Equal(image.Id, _images.Resolve("docker.io/library/busybox:latest").Id);
        Assert.Equal(image.Id, _images.Resolve(image.Id.ToString()).Id);
        Assert.Equal(image.Id, _images.Resolve(image.Id.Hex).Id);
        Assert.Equal(image.Id, _images.Resolve(image.Id.Hex[..4]).Id);
        Assert.Equal(image.Id, _images.Resolve("sha256:" + image.Id.Hex[..6]).Id);
        Assert.Equal(image.Id, _images.Resolve("busybox@" + image.Manifest.Digest).Id);
        var e = Assert.Throws<ImageNotFoundException>(() => _images.Resolve("busybox:other"));
        Assert.Equal("No such image: busybox:other", e.Message);
        Assert.Throws<ImageNotFoundException>(() => _images.Resolve("fff"));
    }

    /// <summary>
    /// dockerd's order, seen with dockerd 20.10: a full id first, then a name, then an id prefix. So a repository named
    /// like a hex prefix wins over that prefix (as in dockerd), while "sha256:PREFIX" stays an id: no tag can be named so.
    /// </summary>
    [Fact]
    public void Resolution_takes_full_ids_then_names_then_id_prefixes()
    {
        var a = AddImage("a", "app:1");
        var b = AddImage("b", a.Id.Hex[..12]);
        Assert.Equal(b.Id, _images.Resolve(a.Id.Hex[..12]).Id);
        Assert.Equal(a.Id, _images.Resolve("sha256:" + a.Id.Hex[..12]).Id);
        Assert.Equal(a.Id, _images.Resolve(a.Id.Hex).Id);
        Assert.Equal(a.Id, _images.Resolve(a.Id.ToString()).Id);
        Assert.Throws<ReferenceException>(() => _images.Tag(b.Id.ToString(), "sha256:" + a.Id.Hex[..12]));
    }

    [Fact]
    public void An_ambiguous_prefix_is_an_error()
    {
        // Enough images that some share a first hex digit.
        var ids = Enumerable.Range(0, 20).Select(i => AddImage("img" + i).Id).ToList();
        var shared = ids.GroupBy(i => i.Hex[0]).First(g => g.Count() > 1).Key;
        var e = Assert.Throws<AmbiguousImageException>(() => _images.Resolve(shared.ToString()));
        Assert.Contains("multiple IDs found with provided prefix", e.Message);
    }

    [Fact]
    public void Tag_moves_a_tag_and_persists_atomically()
    {
        var a = AddImage("a", "app:1");
        var b = AddImage("b", "app:2");
        _images.Tag("app:2", "app:1");
        Assert.Equal(b.Id, _images.Resolve("app:1").Id);
        Assert.Empty(_images.Get(a.Id)!.RepoTags); // a stays, dangling, as docker keeps it
        Assert.Throws<ReferenceException>(() => _images.Tag("app:2", "app@" + b.Id));
        Assert.False(File.Exists(Path.Combine(_dir.Path, "images", "images.json.tmp")));

        var reopened = new ImageStore(Path.Combine(_dir.Path, "images"), _content);
        Assert.Equal(b.Id, reopened.Resolve("app:1").Id);
        Assert.Equal(["app:1", "app:2"], reopened.Get(b.Id)!.FamiliarRepoTags.Order());
    }

    /// <summary>
    /// A tag or rmi whose save fails (here a directory stands where the temp file goes; the daemon tests fill the
    /// disk) changes nothing: not the listing, not images.json, and the next successful write persists the right state.
    /// </summary>
    [Fact]
    public void A_change_whose_save_fails_changes_nothing()
    {
        var a = AddImage("a", "app:1");
        var b = AddImage("b", "app:2");
        var file = Path.Combine(_dir.Path, "images", "images.json");
        var onDisk = File.ReadAllBytes(file);
        var blocker = Directory.CreateDirectory(file + ".tmp");
        File.WriteAllText(Path.Combine(blocker.FullName, "keep"), "");

        var tag = Assert.ThrowsAny<Exception>(() => _images.Tag("app:2", "app:1"));
        Assert.Contains("saving the image store", tag.Message);
        var rmi = Assert.ThrowsAny<Exception>(() => _images.Remove("app:1"));
        Assert.Contains("saving the image store", rmi.Message);
        Assert.ThrowsAny<Exception>(() => _images.Remove(b.Id.ToString()));

        Assert.Equal(a.Id, _images.Resolve("app:1").Id);
        Assert.Equal(["app:1"], _images.Get(a.Id)!.FamiliarRepoTags);
        Assert.Equal(["app:2"], _images.Get(b.Id)!.FamiliarRepoTags);
        Assert.Equal(onDisk, File.ReadAllBytes(file));

        blocker.Delete(recursive: true);
        _images.Tag("app:2", "app:3");
        var reopened = new ImageStore(Path.Combine(_dir.Path, "images"), _content);
        Assert.Equal(a.Id, reopened.Resolve("app:1").Id);
        Assert.Equal(["app:2", "app:3"], reopened.Get(b.Id)!.FamiliarRepoTags.Order());
        Assert.False(File.Exists(file + ".tmp"));
    }

    [Fact]
    public void Rmi_by_name_untags_and_deletes_with_the_last_tag()
    {
        var image = AddImage("a", "app:1", "app:2");
        var first = _images.Remove("app:1");
        Assert.Equal([new ImageDeleteResponse("app:1", null)], first);
        Assert.NotNull(_images.Get(image.Id));
        var second = _images.Remove("app:2");
        // The last tag of the repository takes its digest references with it, then the image goes.
        Assert.Equal(new ImageDeleteResponse("app:2", null), second[0]);
        Assert.Equal(new ImageDeleteResponse($"app@{image.Manifest.Digest}", null), second[1]);
        Assert.Equal(new ImageDeleteResponse(null, image.Id.ToString()), second[2]);
        Assert.Null(_images.Get(image.Id));
    }

    [Fact]
    public void Rmi_by_id_needs_force_when_several_repositories_name_the_image()
    {
        var image = AddImage("a", "app:1", "other:1");
        var e = Assert.Throws<ImageConflictException>(() => _images.Remove(image.Id.Hex[..12]));
        Assert.Equal($"conflict: unable to delete {image.Id.Short} (must be forced) - image is referenced in multiple repositories", e.Message);
        Assert.NotNull(_images.Get(image.Id));
        var records = _images.Remove(image.Id.Hex[..12], force: true);
        Assert.Contains(new ImageDeleteResponse("app:1", null), records);
        Assert.Contains(new ImageDeleteResponse("other:1", null), records);
        Assert.Equal(new ImageDeleteResponse(null, image.Id.ToString()), records[^1]);
        Assert.Null(_images.Get(image.Id));
    }

    [Fact]
    public void Rmi_by_id_of_a_single_tagged_image_untags_and_deletes()
    {
        var image = AddImage("a", "app:1");
        var records = _images.Remove(image.Id.ToString());
        Assert.Contains(new ImageDeleteResponse("app:1", null), records);
        Assert.Equal(new ImageDeleteResponse(null, image.Id.ToString()), records[^1]);
    }

    [Fact]
    public void Collect_frees_only_unreferenced_blobs_and_keeps_shared_and_pinned_ones()
    {
        var a = AddImage("a", "a");
        var b = AddImage("b", "b");
        var stray = _content.Write("stray"u8);
        var pinnedBlob = _content.Write("in use by a running pull"u8);
        using var pin = _content.Pin(pinnedBlob);
        var first = _images.Collect();
        Assert.Equal([stray], first.Deleted);
        Assert.Equal(5, first.BytesFreed);

        _images.Remove("a");
        var second = _images.Collect();
        var expected = new[] { a.Id, a.Manifest.Digest, a.Layers[1].Digest }.Order().ToList();
        Assert.Equal(expected, second.Deleted.Order().ToList());
        Assert.True(_content.Has(a.Layers[0].Digest)); // the base layer b shares stays
        Assert.All(b.Blobs, d => Assert.True(_content.Has(d)));
        Assert.True(_content.Has(pinnedBlob));
        Assert.Empty(_images.Collect().Deleted);
    }

    [Fact]
    public void Sources_are_recorded_per_blob_for_mounts()
    {
        var a = AddImage("a", "a");
        _images.AddSources(a.Layers.Select(l => l.Digest), "127.0.0.1:5000/one");
        _images.AddSource(a.Layers[0].Digest, "127.0.0.1:5000/two");
        Assert.Equal(["127.0.0.1:5000/one", "127.0.0.1:5000/two"], _images.Sources(a.Layers[0].Digest));
        Assert.Equal(["127.0.0.1:5000/one"], new ImageStore(Path.Combine(_dir.Path, "images"), _content).Sources(a.Layers[1].Digest));
    }
}
