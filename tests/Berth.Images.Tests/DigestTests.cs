using System.Text;
using System.Text.Json;
using Berth.Snapshots;

namespace Berth.Images.Tests;

public class DigestTests
{
    // sha256("hello") as sha256sum prints it.
    private const string HelloHex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    [Fact]
    public void Compute_matches_sha256sum_for_bytes_and_streams()
    {
        var bytes = Encoding.ASCII.GetBytes("hello");
        Assert.Equal("sha256:" + HelloHex, Digest.Compute(bytes).ToString());
        Assert.Equal(Digest.Compute(bytes), Digest.Compute(new MemoryStream(bytes)));
        Assert.Equal(HelloHex[..12], Digest.Compute(bytes).Short);
    }

    [Fact]
    public void Parse_round_trips_and_equal_digests_are_equal()
    {
        var d = Digest.Parse("sha256:" + HelloHex);
        Assert.Equal("sha256", d.Algorithm);
        Assert.Equal(HelloHex, d.Hex);
        Assert.Equal(d, Digest.Parse(d.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData(HelloHex, "expected \"sha256:<64 hex digits>\"")]
    [InlineData("sha512:" + HelloHex, "unsupported algorithm \"sha512\"")]
    [InlineData("sha256:" + "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824", "64 lowercase hex digits")]
    [InlineData("sha256:abc", "64 lowercase hex digits")]
    [InlineData("sha256:" + HelloHex + "0", "64 lowercase hex digits")]
    public void Invalid_digests_are_refused_with_the_text(string text, string reason)
    {
        Assert.False(Digest.TryParse(text, out _));
        var e = Assert.Throws<FormatException>(() => Digest.Parse(text));
        Assert.Contains(reason, e.Message);
        Assert.Contains($"\"{text}\"", e.Message);
    }

    [Fact]
    public void Json_reads_and_writes_the_string_form_and_rejects_bad_ones()
    {
        var json = $$"""{"mediaType":"{{MediaTypes.OciLayerGzip}}","digest":"sha256:{{HelloHex}}","size":5}""";
        var manifestJson = $$"""{"schemaVersion":2,"config":{{json.Replace(MediaTypes.OciLayerGzip, MediaTypes.OciConfig)}},"layers":[{{json}}]}""";
        var manifest = ImageJson.ParseManifest(Encoding.UTF8.GetBytes(manifestJson), default);
        Assert.Equal(HelloHex, manifest.Layers[0].Digest.Hex);
        Assert.Contains($"\"digest\":\"sha256:{HelloHex}\"", Encoding.UTF8.GetString(ImageJson.Serialize(manifest)));
        var bad = manifestJson.Replace("sha256:" + HelloHex, "sha256:nothex");
        var e = Assert.Throws<ImageFormatException>(() => ImageJson.ParseManifest(Encoding.UTF8.GetBytes(bad), default));
        Assert.Contains("$.config.digest", e.Message);
    }

    [Fact]
    public void Image_config_parses_docker_fields()
    {
        var json = """
            {"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05.123456789Z",
             "config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Entrypoint":null,"WorkingDir":"/w","User":"1:2",
                       "ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"Labels":{"a":"b"},"StopSignal":"SIGINT"},
             "rootfs":{"type":"layers","diff_ids":["sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"]},
             "history":[{"created_by":"/bin/sh -c #(nop) ADD file","empty_layer":false}],"unknown_field":1}
            """;
        var config = ImageJson.ParseConfig(Encoding.UTF8.GetBytes(json), default);
        Assert.Equal("amd64", config.Architecture);
        Assert.Equal(["sh"], config.Config!.Cmd!);
        Assert.True(config.Config.ExposedPorts!.ContainsKey("80/tcp"));
        Assert.True(config.Config.Volumes!.ContainsKey("/data"));
        Assert.Equal("SIGINT", config.Config.StopSignal);
        Assert.Single(config.RootFs.DiffIds);
        Assert.Equal(2024, config.Created!.Value.Year);
        var again = Encoding.UTF8.GetString(ImageJson.Serialize(config));
        Assert.Contains("\"ExposedPorts\":{\"80/tcp\":{}}", again);
        Assert.Contains("\"diff_ids\":[\"sha256:", again);
    }

    [Fact]
    public void Media_type_is_detected_from_the_field_the_header_or_the_shape()
    {
        Assert.Equal(MediaTypes.DockerManifestList, ImageJson.DetectMediaType(Encoding.UTF8.GetBytes($$"""{"mediaType":"{{MediaTypes.DockerManifestList}}","manifests":[]}"""), null, default));
        Assert.Equal(MediaTypes.OciIndex, ImageJson.DetectMediaType("""{"schemaVersion":2,"manifests":[]}"""u8, null, default));
        Assert.Equal(MediaTypes.OciManifest, ImageJson.DetectMediaType("""{"schemaVersion":2,"config":{}}"""u8, null, default));
        Assert.Equal(MediaTypes.DockerManifest, ImageJson.DetectMediaType("""{"schemaVersion":2}"""u8, MediaTypes.DockerManifest, default));
        Assert.Throws<ImageFormatException>(() => ImageJson.DetectMediaType("""{"schemaVersion":1}"""u8, "application/json", default));
    }

    [Theory]
    [InlineData(MediaTypes.OciLayer, LayerCompression.None)]
    [InlineData(MediaTypes.DockerLayerGzip, LayerCompression.Gzip)]
    [InlineData(MediaTypes.OciLayerGzip, LayerCompression.Gzip)]
    [InlineData(MediaTypes.OciLayerZstd, LayerCompression.Zstd)]
    public void Layer_compression_follows_the_media_type(string mediaType, LayerCompression expected) =>
        Assert.Equal(expected, MediaTypes.LayerCompressionOf(mediaType));

    [Fact]
    public void Json_serialisation_keeps_unicode_readable() =>
        Assert.Equal("\"sha256:" + HelloHex + "\"", JsonSerializer.Serialize(Digest.Parse("sha256:" + HelloHex).ToString()));
}
