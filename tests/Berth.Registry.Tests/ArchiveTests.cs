using System.Formats.Tar;
using System.Text.Json;
using Berth.Images;
using Berth.Registry.Tests.Infrastructure;

namespace Berth.Registry.Tests;

/// <summary>docker save / OCI layout archives both ways, cross-checked with skopeo's docker-archive and oci-archive; import.</summary>
public class ArchiveTests(PlainRegistryFixture fixture) : IClassFixture<PlainRegistryFixture>
{
    private readonly RegistryProcess _registry = fixture.Registry;
    private readonly string _skopeo = Tools.Require("skopeo", "skopeo");

    private static List<string> Members(string tar)
    {
        using var reader = new TarReader(File.OpenRead(tar));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } e) names.Add(e.Name);
        return names;
    }

    [Fact]
    public async Task Save_then_load_into_a_fresh_store_keeps_ids_tags_and_layers()
    {
        using var source = new Store();
        // OCI media types: skopeo's OCI layout reader skips Docker-typed manifests in index.json.
        var image = TestImage.Create(source.Service, "example.com/app:v1", "save", oci: true);
        using var dir = new TempDir();
        var tar = Path.Combine(dir.Path, "save.tar");
        await using (var output = File.Create(tar)) await new ImageArchive(source.Service.Images).SaveAsync(["example.com/app:v1"], output);
        Assert.Contains("manifest.json", Members(tar));
        Assert.Contains("index.json", Members(tar));
        Assert.Contains($"blobs/sha256/{image.Layers[0].Digest.Hex}", Members(tar));

        using var target = new Store();
        await using (var input = File.OpenRead(tar))
        {
            var loaded = await new ImageArchive(target.Service.Images).LoadAsync(input);
            var record = Assert.Single(loaded);
            Assert.Equal(image.Id, record.Id);
            Assert.Equal(image.Manifest.Digest, record.Manifest.Digest); // through index.json: the manifest itself travels
            Assert.Equal(["example.com/app:v1"], record.FamiliarRepoTags);
        }
        // skopeo reads our archive as an OCI archive with the same layers
        var inspect = JsonDocument.Parse(Tools.RunOk(_skopeo, "inspect", $"oci-archive:{tar}:v1")).RootElement;
        Assert.Equal(image.Layers.Select(l => l.Digest.ToString()), inspect.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()));
    }

    [Fact]
    public async Task A_skopeo_docker_archive_loads_with_the_same_image_id()
    {
        using var source = new Store();
        var repo = $"{_registry.Domain}/archive-{Guid.NewGuid().ToString("N")[..6]}";
        var image = TestImage.Create(source.Service, repo + ":1", "docker archive");
        await source.Service.PushAsync(repo + ":1");
        using var dir = new TempDir();
        var tar = Path.Combine(dir.Path, "docker.tar");
        Tools.RunOk(_skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{repo}:1", $"docker-archive:{tar}:example.com/loaded:2");

        using var target = new Store();
        await using var input = File.OpenRead(tar);
        var record = Assert.Single(await new ImageArchive(target.Service.Images).LoadAsync(input));
        Assert.Equal(image.Id, record.Id);
        Assert.Equal(["example.com/loaded:2"], record.FamiliarRepoTags);
        // docker-archive layers are uncompressed tars: their digests are the config's diff_ids
        var (_, config) = target.Service.Inspect("example.com/loaded:2");
        Assert.Equal(config.RootFs.DiffIds, record.Layers.Select(l => l.Digest));
        Assert.All(record.Layers, l => Assert.Equal(MediaTypes.DockerLayer, l.MediaType));
    }

    [Fact]
    public async Task A_skopeo_oci_archive_loads_with_the_same_layers()
    {
        using var source = new Store();
        var repo = $"{_registry.Domain}/ociarchive-{Guid.NewGuid().ToString("N")[..6]}";
        var image = TestImage.Create(source.Service, repo + ":1", "oci archive", oci: true);
        await source.Service.PushAsync(repo + ":1");
        using var dir = new TempDir();
        var tar = Path.Combine(dir.Path, "oci.tar");
        Tools.RunOk(_skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{repo}:1", $"oci-archive:{tar}:example.com/oci:3");

        using var target = new Store();
        await using var input = File.OpenRead(tar);
        var record = Assert.Single(await new ImageArchive(target.Service.Images).LoadAsync(input));
        Assert.Equal(image.Id, record.Id);
        Assert.Equal(image.Manifest.Digest, record.Manifest.Digest);
        Assert.Equal(image.Layers.Select(l => l.Digest), record.Layers.Select(l => l.Digest));
        Assert.Equal(["example.com/oci:3"], record.FamiliarRepoTags);
    }

    [Fact]
    public async Task An_archive_member_leaving_the_archive_is_refused_and_nothing_is_stored()
    {
        using var dir = new TempDir();
        var tar = Path.Combine(dir.Path, "evil.tar");
        await using (var output = File.Create(tar))
        using (var writer = new TarWriter(output))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "blobs/sha256/" + new string('a', 64)) { DataStream = new MemoryStream("x"u8.ToArray()) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "ok") { DataStream = new MemoryStream("y"u8.ToArray()) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "../escape") { DataStream = new MemoryStream("z"u8.ToArray()) });
        }
        using var target = new Store();
        await using var input = File.OpenRead(tar);
        // The first member's name is not its digest: a mismatch, naming both.
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => new ImageArchive(target.Service.Images).LoadAsync(input));
        Assert.Contains("sha256:" + new string('a', 64), e.Message);
        Assert.Empty(target.ContentFiles());

        var tar2 = Path.Combine(dir.Path, "evil2.tar");
        await using (var output = File.Create(tar2))
        using (var writer = new TarWriter(output))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "ok") { DataStream = new MemoryStream("y"u8.ToArray()) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "a/../../escape") { DataStream = new MemoryStream("z"u8.ToArray()) });
        }
        await using var input2 = File.OpenRead(tar2);
        var e2 = await Assert.ThrowsAsync<ImageFormatException>(() => new ImageArchive(target.Service.Images).LoadAsync(input2));
        Assert.Contains("a/../../escape", e2.Message);
        Assert.Empty(target.ContentFiles());
        Assert.Empty(target.Service.List());
    }

    [Fact]
    public async Task Import_makes_a_one_layer_image_whose_diff_id_is_the_tar_s_digest()
    {
        using var store = new Store();
        var tarBytes = TestImage.BusyboxLayerTar();
        var gz = TestImage.Gzip(tarBytes);
        var record = await new ImageArchive(store.Service.Images).ImportAsync(new MemoryStream(gz), "imported:1");
        Assert.Equal(["imported:1"], record.FamiliarRepoTags);
        var layer = Assert.Single(record.Layers);
        Assert.Equal(Digest.Compute(gz), layer.Digest);
        Assert.Equal(MediaTypes.DockerLayerGzip, layer.MediaType);
        var (_, config) = store.Service.Inspect("imported:1");
        Assert.Equal([Digest.Compute(tarBytes)], config.RootFs.DiffIds);

        var before = store.ContentFiles().Length;
        var e = await Assert.ThrowsAsync<ImageFormatException>(() =>
            new ImageArchive(store.Service.Images).ImportAsync(new MemoryStream(new byte[700].Select((_, i) => (byte)(i % 7 + 1)).ToArray()), "bad:1"));
        Assert.Contains("not a tar archive", e.Message);
        Assert.Equal(before, store.ContentFiles().Length);
    }
}
