using System.Formats.Tar;

namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>The host's busybox-static as an image layer (a plain tar), for images the tests build.</summary>
public static class BusyboxLayer
{
    /// <summary>A layer of /bin/busybox with the applets the tests use, /etc/passwd and group, and /etc/gone (for a layer above to remove).</summary>
    /// <summary>A one-layer image <paramref name="tag"/> of <see cref="Tar"/>, loaded into the daemon (its archive written to <paramref name="dir"/>).</summary>
    public static void LoadImage(DaemonInstance daemon, string tag, string dir)
    {
        var archive = new Berth.Images.Tests.SaveArchiveBuilder();
        archive.Image([tag], [Tar()]);
        string file = Path.Combine(dir, "image.tar");
        File.WriteAllBytes(file, archive.Build());
        DockerCli.Ok(DockerCli.Docker(daemon, "load", "-i", file));
    }

    public static byte[] Tar()
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var mtime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            void Dir(string name) => writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0x1ed, ModificationTime = mtime });
            void FileEntry(string name, byte[] data, int mode) => writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
            {
                Mode = (UnixFileMode)mode, ModificationTime = mtime, DataStream = new MemoryStream(data),
            });
            Dir("bin/");
            FileEntry("bin/busybox", File.ReadAllBytes("/bin/busybox"), 0x1ed);
            foreach (var applet in new[] { "sh", "sleep", "cat", "ls", "echo", "id", "pwd", "touch", "true", "false", "test", "head", "tr" })
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/" + applet) { LinkName = "busybox", ModificationTime = mtime });
            Dir("etc/");
            FileEntry("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"u8.ToArray(), 0x1a4);
            FileEntry("etc/group", "root:x:0:\nnogroup:x:65534:\n"u8.ToArray(), 0x1a4);
            FileEntry("etc/gone", "removed by layer 2\n"u8.ToArray(), 0x1a4);
            Dir("tmp/");
        }
        return tar.ToArray();
    }
}
