using System.Security.Cryptography;
using System.Text;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// The test image, built from the host's busybox-static without any registry: a rootfs tar (for
/// <c>podman import</c>) and a docker-archive tar, one layer (for <c>ctr images import</c> and <c>docker load</c>).
/// </summary>
public sealed class BusyboxImage
{
    public const string Busybox = "/bin/busybox";
    /// <summary>The name in the docker archive; containerd stores it as <c>docker.io/berth-test/busybox:latest</c>.</summary>
    public const string Tag = "berth-test/busybox:latest";

    private BusyboxImage(string rootfsTar, string dockerArchive)
    {
        RootfsTar = rootfsTar;
        DockerArchive = dockerArchive;
    }

    public string RootfsTar { get; }
    public string DockerArchive { get; }

    public static BusyboxImage Build(string directory)
    {
        if (!File.Exists(Busybox))
            throw new InvalidOperationException($"{Busybox} not found: install busybox-static");
        var rootfs = Path.Combine(directory, "rootfs");
        foreach (var dir in new[] { "bin", "dev", "proc", "sys", "tmp", "etc", "root", "run", "var/tmp" })
            Directory.CreateDirectory(Path.Combine(rootfs, dir));
        File.Copy(Busybox, Path.Combine(rootfs, "bin", "busybox"), overwrite: true);
        File.SetUnixFileMode(Path.Combine(rootfs, "bin", "busybox"), (UnixFileMode)0b111_101_101);
        var applets = Tool.Check(directory, Busybox, ["--list"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var applet in applets.Where(a => a != "busybox"))
            File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
        File.CreateSymbolicLink(Path.Combine(rootfs, "sbin"), "bin");
        File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
        File.WriteAllText(Path.Combine(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
        File.SetUnixFileMode(Path.Combine(rootfs, "tmp"), (UnixFileMode)0b1_111_111_111);

        var rootfsTar = Path.Combine(directory, "busybox-rootfs.tar");
        Tar(directory, rootfsTar, rootfs);

        // docker-archive: manifest.json, the image config named by its digest, and the layer.
        var archive = Path.Combine(directory, "archive");
        var layerDigest = Sha256(rootfsTar);
        Directory.CreateDirectory(Path.Combine(archive, layerDigest));
        File.Copy(rootfsTar, Path.Combine(archive, layerDigest, "layer.tar"));
        var config = "{\"architecture\":\"amd64\",\"os\":\"linux\"," +
                     "\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"]}," +
                     $"\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"sha256:{layerDigest}\"]}}}}";
        var configDigest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(config)));
        File.WriteAllText(Path.Combine(archive, configDigest + ".json"), config);
        File.WriteAllText(Path.Combine(archive, "manifest.json"),
            $"[{{\"Config\":\"{configDigest}.json\",\"RepoTags\":[\"{Tag}\"],\"Layers\":[\"{layerDigest}/layer.tar\"]}}]");
        var dockerArchive = Path.Combine(directory, "busybox-docker-archive.tar");
        Tar(directory, dockerArchive, archive);
        return new BusyboxImage(rootfsTar, dockerArchive);
    }

    private static void Tar(string workDirectory, string tarPath, string directory) =>
        Tool.Check(workDirectory, "tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", directory, "-cf", tarPath, "."]);

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
