using Berth.Snapshots;

namespace Berth.Images;

/// <summary>The media types of OCI image-spec and Docker image manifest v2 schema 2.</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string OciLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    public const string OciLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public const string OciLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// <summary>Every manifest or index type the registry client accepts, for the Accept header.</summary>
    public static readonly IReadOnlyList<string> AllManifests = [OciIndex, DockerManifestList, OciManifest, DockerManifest];

    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    public static bool IsConfig(string? mediaType) => mediaType is OciConfig or DockerConfig;

    /// <summary>How a layer blob is compressed, from its media type; null when the type is not a layer.</summary>
    public static LayerCompression? LayerCompressionOf(string? mediaType) => mediaType switch
    {
        OciLayer or DockerLayer or OciLayerNondistributable => LayerCompression.None,
        OciLayerGzip or DockerLayerGzip or DockerForeignLayerGzip or OciLayerNondistributableGzip => LayerCompression.Gzip,
        OciLayerZstd or OciLayerNondistributableZstd => LayerCompression.Zstd,
        _ => null,
    };

    /// <summary>Foreign (non-distributable) layers live outside the registry: docker neither pushes nor requires them.</summary>
    public static bool IsForeignLayer(string? mediaType) =>
        mediaType is DockerForeignLayerGzip or OciLayerNondistributable or OciLayerNondistributableGzip or OciLayerNondistributableZstd;
}

