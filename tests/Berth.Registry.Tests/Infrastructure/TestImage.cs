using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Berth.Images;

namespace Berth.Registry.Tests.Infrastructure;

public enum LayerKind { Gzip, Uncompressed, Zstd }

/// <summary>Builds real images in a store: a busybox-static base layer (shared by every image built) and a layer of its own.</summary>
public static class TestImage
{
    private static readonly Lazy<byte[]> BusyboxTar = new(() =>
    {
        var busybox = Tools.Require("busybox", "busybox-static");
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var mtime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/") { Mode = (UnixFileMode)0b111_101_101, ModificationTime = mtime });
            var file = new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox")
            {
                Mode = (UnixFileMode)0b111_101_101,
                ModificationTime = mtime,
                DataStream = new MemoryStream(File.ReadAllBytes(busybox)),
            };
            writer.WriteEntry(file);
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/sh") { LinkName = "busybox", ModificationTime = mtime });
        }
        return tar.ToArray();
    });

    /// <summary>The uncompressed busybox-static layer tar (bin/busybox, bin/sh).</summary>
    public static byte[] BusyboxLayerTar() => BusyboxTar.Value;

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    private static byte[] Zstd(byte[] data, string dir)
    {
        var input = Path.Combine(dir, $"layer-{Guid.NewGuid():N}.tar");
        File.WriteAllBytes(input, data);
        Tools.RunOk(Tools.Require("zstd", "zstd"), "-q", "-f", input, "-o", input + ".zst");
        var result = File.ReadAllBytes(input + ".zst");
        File.Delete(input);
        File.Delete(input + ".zst");
        return result;
    }

    private static byte[] OwnTar(string seed)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/seed")
            {
                Mode = (UnixFileMode)0b110_100_100,
                ModificationTime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(seed + "\n")),
            });
        }
        return tar.ToArray();
    }

    /// <summary>Creates and records an image tagged <paramref name="tag"/>; returns its record.</summary>
    public static ImageRecord Create(ImageService service, string tag, string seed, bool oci = false, LayerKind own = LayerKind.Gzip, string? scratch = null)
    {
        var baseTar = BusyboxTar.Value;
        var baseBlob = Gzip(baseTar);
        var ownTar = OwnTar(seed);
        var ownBlob = own switch
        {
            LayerKind.Gzip => Gzip(ownTar),
            LayerKind.Uncompressed => ownTar,
            _ => Zstd(ownTar, scratch ?? Path.GetTempPath()),
        };
        var ownType = (own, oci) switch
        {
            (LayerKind.Gzip, true) => MediaTypes.OciLayerGzip,
            (LayerKind.Gzip, false) => MediaTypes.DockerLayerGzip,
            (LayerKind.Uncompressed, true) => MediaTypes.OciLayer,
            (LayerKind.Uncompressed, false) => MediaTypes.DockerLayer,
            _ => MediaTypes.OciLayerZstd,
        };
        var content = service.Content;
        var baseDigest = content.Write(baseBlob);
        var ownDigest = content.Write(ownBlob);
        var config = new ImageConfig
        {
            Architecture = "amd64",
            Os = "linux",
            Created = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
            Config = new ContainerConfig { Cmd = ["/bin/sh"], Env = ["PATH=/bin", "SEED=" + seed] },
            RootFs = new RootFs { DiffIds = [Digest.Compute(baseTar), Digest.Compute(ownTar)] },
            History = [new HistoryEntry { CreatedBy = "busybox" }, new HistoryEntry { CreatedBy = "seed " + seed }],
        };
        var configBytes = ImageJson.Serialize(config);
        var configDigest = content.Write(configBytes);
        var layers = new List<Descriptor>
        {
            new() { MediaType = oci ? MediaTypes.OciLayerGzip : MediaTypes.DockerLayerGzip, Digest = baseDigest, Size = baseBlob.Length },
            new() { MediaType = ownType, Digest = ownDigest, Size = ownBlob.Length },
        };
        var manifest = new ImageManifest
        {
            MediaType = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest,
            Config = new Descriptor { MediaType = oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig, Digest = configDigest, Size = configBytes.Length },
            Layers = layers,
        };
        var manifestBytes = ImageJson.Serialize(manifest);
        var manifestDigest = content.Write(manifestBytes);
        return service.Images.Put(new ImageRecord
        {
            Id = configDigest,
            ConfigMediaType = manifest.Config.MediaType,
            Manifest = new Descriptor { MediaType = manifest.MediaType!, Digest = manifestDigest, Size = manifestBytes.Length },
            Manifests = [manifestDigest],
            Layers = layers,
            RepoTags = [ImageReference.Parse(tag).ToString()],
            Created = config.Created,
            Size = layers.Sum(l => l.Size),
        });
    }
}
