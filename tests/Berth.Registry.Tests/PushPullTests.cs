using System.Text;
using Berth.Images;
using Berth.Images.Registry;
using Berth.Registry.Tests.Infrastructure;

namespace Berth.Registry.Tests;

public class PushPullTests(PlainRegistryFixture fixture) : IClassFixture<PlainRegistryFixture>
{
    private readonly RegistryProcess _registry = fixture.Registry;

    private string Ref(string repo, string tag = "1") => $"{_registry.Domain}/{repo}-{Guid.NewGuid().ToString("N")[..6]}:{tag}";

    [Theory]
    [InlineData(false, LayerKind.Gzip)]
    [InlineData(true, LayerKind.Gzip)]
    [InlineData(true, LayerKind.Zstd)]
    [InlineData(true, LayerKind.Uncompressed)]
    [InlineData(false, LayerKind.Uncompressed)]
    public async Task Push_then_pull_into_a_fresh_store_gives_the_same_digests(bool oci, LayerKind kind)
    {
        using var source = new Store();
        using var target = new Store();
        var name = Ref("roundtrip");
        var image = TestImage.Create(source.Service, name, "roundtrip " + kind, oci, kind, source.Root);

        var pushed = await source.Service.PushAsync(name, source.Report);
        Assert.Equal(image.Manifest.Digest, pushed.ManifestDigest);
        Assert.Contains(source.Events, e => e.Status == $"1: digest: {image.Manifest.Digest} size: {image.Manifest.Size}");

        var pulled = await target.Service.PullAsync(name, target.PullOptions);
        Assert.Equal(image.Id, pulled.Image.Id);
        Assert.Equal(image.Manifest.Digest, pulled.ManifestDigest);
        Assert.Null(pulled.IndexDigest);
        Assert.Equal(image.Layers.Select(l => (l.Digest, l.MediaType, l.Size)), pulled.Manifest.Layers.Select(l => (l.Digest, l.MediaType, l.Size)));
        foreach (var layer in image.Layers)
            Assert.Equal(source.Service.Content.ReadAllBytes(layer.Digest), target.Service.Content.ReadAllBytes(layer.Digest));
        var (record, config) = target.Service.Inspect(name);
        Assert.Equal(["/bin/sh"], config.Config!.Cmd!);
        Assert.Equal([ImageReference.Parse(name).ToString()], record.RepoTags);
        Assert.Equal([$"{ImageReference.Parse(name).Name}@{image.Manifest.Digest}"], record.RepoDigests);
    }

    [Fact]
    public async Task Pull_progress_has_dockerd_s_lines_and_a_second_pull_is_up_to_date()
    {
        using var source = new Store();
        var name = Ref("progress");
        var image = TestImage.Create(source.Service, name, "progress");
        await source.Service.PushAsync(name);

        using var target = new Store();
        await target.Service.PullAsync(name, target.PullOptions);
        var events = target.Events.ToList();
        var repo = ImageReference.Parse(name);
        Assert.Equal(new ProgressEvent("1", $"Pulling from {repo.Path}"), events[0]);
        foreach (var layer in image.Layers)
        {
            var id = layer.Digest.Short;
            var statuses = events.Where(e => e.Id == id).Select(e => e.Status).Distinct().ToList();
            Assert.Equal(["Pulling fs layer", "Downloading", "Verifying Checksum", "Download complete", "Pull complete"], statuses);
            var last = events.Last(e => e.Id == id && e.Status == "Downloading");
            Assert.Equal((layer.Size, layer.Size), (last.Current, last.Total));
        }
        Assert.Equal(new ProgressEvent(null, $"Digest: {image.Manifest.Digest}"), events[^2]);
        Assert.Equal(new ProgressEvent(null, $"Status: Downloaded newer image for {repo.FamiliarString}"), events[^1]);

        var again = new Store();
        using (again)
        {
            // Same store: nothing to fetch.
            target.Events.Clear();
            var second = await target.Service.PullAsync(name, target.PullOptions);
            Assert.False(second.Downloaded);
            Assert.Contains(target.Events, e => e.Status == "Already exists" && e.Id == image.Layers[0].Digest.Short);
            Assert.Equal($"Status: Image is up to date for {repo.FamiliarString}", target.Events.Last().Status);
        }
    }

    [Fact]
    public async Task A_second_push_skips_the_blobs_the_registry_has()
    {
        using var source = new Store();
        var name = Ref("skip");
        var image = TestImage.Create(source.Service, name, "skip");
        await source.Service.PushAsync(name, source.Report);
        Assert.Equal(2, source.Events.Count(e => e.Status == "Pushed"));
        source.Events.Clear();
        await source.Service.PushAsync(name, source.Report);
        Assert.DoesNotContain(source.Events, e => e.Status is "Pushed" or "Pushing");
        Assert.Equal(image.Layers.Select(l => l.Digest.Short).Order(), source.Events.Where(e => e.Status == "Layer already exists").Select(e => e.Id!).Order());
    }

    [Fact]
    public async Task Pushing_to_another_repository_mounts_the_blobs()
    {
        using var source = new Store();
        var first = Ref("mount-a");
        var second = Ref("mount-b");
        var image = TestImage.Create(source.Service, first, "mount");
        await source.Service.PushAsync(first);
        source.Service.Tag(first, second);
        await source.Service.PushAsync(second, source.Report);
        var from = ImageReference.Parse(first).FamiliarName;
        Assert.Equal(image.Layers.Select(l => l.Digest.Short).Order(),
            source.Events.Where(e => e.Status == $"Mounted from {from}").Select(e => e.Id!).Order());
        Assert.DoesNotContain(source.Events, e => e.Status == "Pushed");
        // The registry saw the mount requests (its access log).
        var secondPath = ImageReference.Parse(second).Path;
        Assert.Contains($"POST /v2/{secondPath}/blobs/uploads/?mount=sha256%3A{image.Layers[0].Digest.Hex}", _registry.Log);

        using var target = new Store();
        var pulled = await target.Service.PullAsync(second);
        Assert.Equal(image.Id, pulled.Image.Id);
    }

    /// <summary>Puts an index naming the given manifests with the given platforms into the registry.</summary>
    private static async Task<Digest> PutIndexAsync(RegistryClient client, ImageReference where, params (Descriptor Manifest, string Arch)[] entries)
    {
        var index = new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests = [.. entries.Select(e => e.Manifest with { Platform = new Platform { Os = "linux", Architecture = e.Arch } })],
        };
        return await client.PutManifestAsync(where, where.Tag!, ImageJson.Serialize(index), MediaTypes.OciIndex);
    }

    [Fact]
    public async Task An_index_with_only_arm64_fails_clearly_and_stores_nothing()
    {
        using var source = new Store();
        var name = Ref("armonly");
        var image = TestImage.Create(source.Service, name, "arm");
        await source.Service.PushAsync(name);
        var multi = ImageReference.Parse(name).WithTag("multi");
        await PutIndexAsync(source.Service.Registry, multi, (image.Manifest, "arm64"));

        using var target = new Store();
        var e = await Assert.ThrowsAsync<PlatformNotFoundException>(() => target.Service.PullAsync(multi.ToString()));
        Assert.StartsWith("no matching manifest for linux/amd64 in the manifest list entries", e.Message);
        Assert.Empty(target.ContentFiles());
        Assert.Empty(target.Service.List());
    }

    [Fact]
    public async Task An_index_gives_the_amd64_manifest_and_the_index_digest_as_repo_digest()
    {
        using var source = new Store();
        var name = Ref("multi");
        var amd = TestImage.Create(source.Service, name, "amd");
        await source.Service.PushAsync(name);
        var armName = ImageReference.Parse(name).WithTag("arm").ToString();
        var arm = TestImage.Create(source.Service, armName, "arm");
        await source.Service.PushAsync(armName);
        var multi = ImageReference.Parse(name).WithTag("multi");
        var indexDigest = await PutIndexAsync(source.Service.Registry, multi, (arm.Manifest, "arm64"), (amd.Manifest, "amd64"));

        using var target = new Store();
        var pulled = await target.Service.PullAsync(multi.ToString());
        Assert.Equal(amd.Id, pulled.Image.Id);
        Assert.Equal(indexDigest, pulled.IndexDigest);
        Assert.Equal([$"{multi.Name}@{indexDigest}"], pulled.Image.RepoDigests);
        Assert.True(target.Service.Content.Has(indexDigest));
        Assert.False(target.Service.Content.Has(arm.Id));
        // by digest too, and the index digest resolves locally
        Assert.Equal(amd.Id, target.Service.Images.Resolve($"{multi.Name}@{indexDigest}").Id);
    }

    [Fact]
    public async Task A_tampered_blob_is_refused_naming_both_digests_and_nothing_is_stored()
    {
        using var source = new Store();
        var name = Ref("tamper");
        var image = TestImage.Create(source.Service, name, "tamper");
        await source.Service.PushAsync(name);
        var layer = image.Layers[1];
        var data = File.ReadAllBytes(_registry.BlobDataPath(layer.Digest));
        data[^1] ^= 0xff; // same size, different content
        File.WriteAllBytes(_registry.BlobDataPath(layer.Digest), data);

        using var target = new Store();
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => target.Service.PullAsync(name));
        Assert.Equal(layer.Digest, e.Expected);
        Assert.Equal(Digest.Compute(data), e.Actual);
        Assert.Contains($"expected {layer.Digest}, got {Digest.Compute(data)}", e.Message);
        Assert.Empty(target.ContentFiles());
        Assert.Empty(target.Service.List());
    }

    [Fact]
    public async Task An_unknown_tag_is_a_not_found_error()
    {
        using var target = new Store();
        var name = Ref("missing");
        var e = await Assert.ThrowsAsync<RegistryNotFoundException>(() => target.Service.PullAsync(name));
        Assert.Contains($"manifest for {ImageReference.Parse(name).FamiliarString} not found", e.Message);
        Assert.Contains("unknown", e.Message);
        Assert.Empty(target.ContentFiles());
    }

    [Fact]
    public async Task Rmi_of_a_pulled_image_frees_its_blobs_but_not_a_shared_base()
    {
        using var source = new Store();
        var one = Ref("gc");
        var two = Ref("gc");
        var a = TestImage.Create(source.Service, one, "gc one");
        var b = TestImage.Create(source.Service, two, "gc two");
        await source.Service.PushAsync(one);
        await source.Service.PushAsync(two);

        using var target = new Store();
        await target.Service.PullAsync(one);
        await target.Service.PullAsync(two);
        var records = target.Service.Remove(one);
        Assert.Equal(new ImageDeleteResponse(null, a.Id.ToString()), records[^1]);
        Assert.False(target.Service.Content.Has(a.Id));
        Assert.False(target.Service.Content.Has(a.Layers[1].Digest));
        Assert.False(target.Service.Content.Has(a.Manifest.Digest));
        Assert.True(target.Service.Content.Has(a.Layers[0].Digest)); // shared with b
        Assert.All(b.Blobs, d => Assert.True(target.Service.Content.Has(d)));
        Assert.Throws<ImageNotFoundException>(() => target.Service.Inspect(one));
    }

    [Fact]
    public void Manifests_are_stored_as_the_exact_bytes_received()
    {
        // The digest of what a registry sent is the digest of those bytes, even when re-serialising would differ.
        using var store = new Store();
        var odd = Encoding.UTF8.GetBytes("{ \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": [] }");
        var digest = store.Service.Content.Write(odd);
        Assert.Equal(Digest.Compute(odd), digest);
        Assert.NotEqual(digest, Digest.Compute(ImageJson.Serialize(ImageJson.ParseIndex(odd, digest))));
        Assert.Equal(odd, store.Service.Content.ReadAllBytes(digest));
    }
}
