using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Images;

/// <summary>Source-generated JSON for the image types: no reflection, trim- and AOT-clean.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(MediaTypeProbe))]
[JsonSerializable(typeof(List<DockerArchiveEntry>))]
[JsonSerializable(typeof(ImageStoreFile))]
[JsonSerializable(typeof(Registry.DockerConfigFile))]
[JsonSerializable(typeof(Registry.TokenResponse))]
[JsonSerializable(typeof(Registry.RegistryErrors))]
internal sealed partial class ImagesJsonContext : JsonSerializerContext;

/// <summary>Parses manifest, index and config bytes, naming the blob in errors.</summary>
public static class ImageJson
{
    public static ImageManifest ParseManifest(ReadOnlySpan<byte> json, Digest digest) =>
        Parse(json, ImagesJsonContext.Default.ImageManifest, "manifest", digest);

    public static ImageIndex ParseIndex(ReadOnlySpan<byte> json, Digest digest) =>
        Parse(json, ImagesJsonContext.Default.ImageIndex, "index", digest);

    public static ImageConfig ParseConfig(ReadOnlySpan<byte> json, Digest digest) =>
        Parse(json, ImagesJsonContext.Default.ImageConfig, "image config", digest);

    /// <summary>The media type of a manifest or index body: its mediaType field, or its shape when that is absent (OCI allows it).</summary>
    public static string DetectMediaType(ReadOnlySpan<byte> json, string? contentType, Digest digest)
    {
        var probe = Parse(json, ImagesJsonContext.Default.MediaTypeProbe, "manifest", digest);
        if (!string.IsNullOrEmpty(probe.MediaType)) return probe.MediaType;
        var header = contentType?.Split(';')[0].Trim();
        if (MediaTypes.IsIndex(header) || MediaTypes.IsManifest(header)) return header!;
        if (probe.Manifests is not null) return MediaTypes.OciIndex;
        if (probe.Config is not null) return MediaTypes.OciManifest;
        throw new ImageFormatException($"manifest {digest}: neither a manifest nor an index (no mediaType, config or manifests)");
    }

    public static byte[] Serialize(ImageManifest manifest) =>
        JsonSerializer.SerializeToUtf8Bytes(manifest, ImagesJsonContext.Default.ImageManifest);

    public static byte[] Serialize(ImageIndex index) =>
        JsonSerializer.SerializeToUtf8Bytes(index, ImagesJsonContext.Default.ImageIndex);

    public static byte[] Serialize(ImageConfig config) =>
        JsonSerializer.SerializeToUtf8Bytes(config, ImagesJsonContext.Default.ImageConfig);

    private static T Parse<T>(ReadOnlySpan<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, string what, Digest digest)
    {
        try
        {
            return JsonSerializer.Deserialize(json, info) ?? throw new ImageFormatException($"{what} {digest}: null");
        }
        catch (JsonException e)
        {
            var where = e.Path is null ? "" : $" at {e.Path}";
            throw new ImageFormatException($"{what} {digest}: invalid JSON{where}: {e.Message}", e);
        }
    }
}

/// <summary>A manifest, index or config that cannot be read.</summary>
public sealed class ImageFormatException(string message, Exception? inner = null) : Exception(message, inner);
