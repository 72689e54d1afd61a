using System.Formats.Tar;
using Berth.Daemon.Containers.Archive;
using Berth.Linux;

namespace Berth.Daemon.Volumes;

/// <summary>
/// dockerd's copy of the image's files into an empty volume the first time a container mounts it there (unless the mount
/// says nocopy). The container's tree is untrusted: the copy goes through the archive routes' code, which reads the
/// rootfs with every lookup inside it (openat2 RESOLVE_IN_ROOT, no symlink followed out) and writes into the volume the
/// same way, so a symlink in the image can neither read a host file into the volume nor write outside it.
/// </summary>
public static class VolumeCopyUp
{
    /// <summary>Copies what <paramref name="rootfs"/> holds at <paramref name="destination"/> into <paramref name="data"/>
    /// when that is empty and the destination is a directory; returns whether it copied. <paramref name="scratch"/> is a
    /// directory for the copy's temporary tar.</summary>
    public static async Task<bool> CopyIfEmptyAsync(string rootfs, string destination, string data, string scratch, CancellationToken ct = default)
    {
        if (Directory.EnumerateFileSystemEntries(data).Any()) return false;
        var parts = destination.Split('/', StringSplitOptions.RemoveEmptyEntries);
        using var root = new ContainerRoot(rootfs);
        using var source = root.TryOpen(parts, followLast: true, Libc.O_PATH | Libc.O_DIRECTORY, out _);
        if (source is null) return false; // nothing there (or not a directory): the volume stays empty, as with dockerd
        string tarPath = Path.Combine(scratch, $"volume-copy-{Guid.NewGuid():N}.tar");
        try
        {
            await using (var file = new FileStream(tarPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose))
            {
                await using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: true))
                    await new ArchiveWriter(tar).WriteAsync(source, ".", ct);
                file.Position = 0;
                using var target = new ContainerRoot(data);
                await new ArchiveExtractor(target, [], new ExtractOptions(NoOverwriteDirNonDir: false, Owner: null)).ExtractAsync(file, ct);
            }
            return true;
        }
        finally
        {
            File.Delete(tarPath);
        }
    }
}
