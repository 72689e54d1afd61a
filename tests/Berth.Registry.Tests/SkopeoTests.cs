using System.Text.Json;
using Berth.Images;
using Berth.Registry.Tests.Infrastructure;

namespace Berth.Registry.Tests;

/// <summary>Cross-checks with skopeo: what it pushes we pull, what we push it reads, with the same digests.</summary>
public class SkopeoTests(PlainRegistryFixture fixture) : IClassFixture<PlainRegistryFixture>
{
    private readonly RegistryProcess _registry = fixture.Registry;
    private readonly string _skopeo = Tools.Require("skopeo", "skopeo");

    private string Repo(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Writes an image's blobs as an OCI image layout (oci-layout, index.json, blobs/sha256/HEX) with ref name <paramref name="tag"/>.</summary>
    private static void WriteLayout(Store store, ImageRecord image, string dir, string tag)
    {
        var blobs = Path.Combine(dir, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        foreach (var digest in image.Blobs.Distinct())
            File.Copy(store.Service.Content.PathOf(digest), Path.Combine(blobs, digest.Hex));
        File.WriteAllText(Path.Combine(dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        var entry = $"\"mediaType\":\"{image.Manifest.MediaType}\",\"digest\":\"{image.Manifest.Digest}\",\"size\":{image.Manifest.Size}";
        File.WriteAllText(Path.Combine(dir, "index.json"),
            "{\"schemaVersion\":2,\"manifests\":[{" + entry + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag + "\"}}]}");
    }

    [Fact]
    public async Task An_image_skopeo_pushed_pulls_with_the_same_digests()
    {
        using var builder = new Store();
        var image = TestImage.Create(builder.Service, "local/skopeo-src:1", "from skopeo", oci: true);
        using var layout = new TempDir();
        WriteLayout(builder, image, layout.Path, "v1");
        var repo = Repo("skopeo-pushed");
        Tools.RunOk(_skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", $"oci:{layout.Path}:v1", $"docker://{_registry.Domain}/{repo}:1");

        using var target = new Store();
        var pulled = await target.Service.PullAsync($"{_registry.Domain}/{repo}:1");
        Assert.Equal(image.Id, pulled.Image.Id);
        Assert.Equal(image.Layers.Select(l => l.Digest), pulled.Manifest.Layers.Select(l => l.Digest));
        // And skopeo's own view of the remote manifest is the one we stored, byte for byte.
        var raw = Tools.RunOk(_skopeo, "inspect", "--raw", "--tls-verify=false", $"docker://{_registry.Domain}/{repo}:1");
        Assert.Equal(pulled.ManifestDigest, Digest.Compute(System.Text.Encoding.UTF8.GetBytes(raw)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_image_we_pushed_reads_with_skopeo_inspect_and_copy(bool oci)
    {
        using var source = new Store();
        var repo = Repo("berth-pushed");
        var name = $"{_registry.Domain}/{repo}:1";
        var image = TestImage.Create(source.Service, name, "to skopeo", oci);
        var pushed = await source.Service.PushAsync(name);

        var inspect = JsonDocument.Parse(Tools.RunOk(_skopeo, "inspect", "--tls-verify=false", $"docker://{name}")).RootElement;
        Assert.Equal(pushed.ManifestDigest.ToString(), inspect.GetProperty("Digest").GetString());
        Assert.Equal(image.Layers.Select(l => l.Digest.ToString()), inspect.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("amd64", inspect.GetProperty("Architecture").GetString());

        using var copy = new TempDir();
        var dir = Path.Combine(copy.Path, "out");
        Tools.RunOk(_skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{name}", $"dir:{dir}");
        Assert.Equal(pushed.ManifestDigest, Digest.Compute(File.ReadAllBytes(Path.Combine(dir, "manifest.json"))));
        foreach (var digest in image.Layers.Select(l => l.Digest).Append(image.Id))
            Assert.Equal(digest, Digest.Compute(File.ReadAllBytes(Path.Combine(dir, digest.Hex))));
    }
}
