using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Berth.Linux;

namespace Berth.Snapshots.RootTests;

/// <summary>
/// A three-layer image unpacked by umoci (a tool no one here wrote) and by Berth (snapshots + a read-only overlay
/// mount) must give the same tree, file by file. umoci 0.4.7 reads no zstd, so its layout holds layer 2 as a
/// plain tar while Berth is handed the same tar compressed with zstd: the same diffID, so the same chain.
/// </summary>
public class UmociCrossCheckTests
{
    // security.capability v2 (VFS_CAP_REVISION_2 | effective) granting cap_net_bind_service and cap_net_raw.
    const string Capability = "\u0001\0\0\u0002\0\u0024\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    static readonly string LongName = "long/" + new string('n', 120) + "/" + new string('f', 130);

    // cap_setuid|cap_setgid: byte 4 is 0xc0, not valid UTF-8, so System.Formats.Tar alone would alter it. The
    // writer takes text, so a '~' placeholder is written and patched to 0xc0 in the finished tar.
    const string BinaryCapabilityPlaceholder = "\u0001\0\0\u0002~\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    static byte[] PatchBinaryCapability(byte[] tar)
    {
        var marker = System.Text.Encoding.ASCII.GetBytes("security.capability=\u0001\0\0\u0002~");
        int at = tar.AsSpan().IndexOf(marker);
        Assert.True(at >= 0, "placeholder capability record not found");
        tar[at + marker.Length - 1] = 0xc0;
        return tar;
    }

    static byte[] BaseLayer() => PatchBinaryCapability(new TarBuilder()
        .Dir("etc/")
        .File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        .Dir("bin/", 0x1ed)
        .File("bin/tool", "#!/bin/sh\necho tool\n", 0x9ed /* 04755 */, 1000, 1000)
        .Hardlink("bin/tool-link", "bin/tool")
        .Symlink("bin/sh", "tool")
        .Symlink("abs-link", "/etc/passwd", 7, 8)
        .File("bin/capped", "capped\n", 0x1ed, xattrs: new Dictionary<string, string> { ["security.capability"] = Capability })
        .File("data/xattrs", "x\n", 0x1a4, 33, 44, new Dictionary<string, string> { ["user.comment"] = "hello", ["trusted.berth"] = "t-value" })
        .Dir("dev/")
        .Device(TarEntryType.CharacterDevice, "dev/null", 1, 3, 0x1b6)
        .Device(TarEntryType.BlockDevice, "dev/loop9", 7, 9, 0x1b0, 0, 6)
        .Dir("run/", 0x1ed)
        .Device(TarEntryType.Fifo, "run/fifo", 0, 0, 0x180, 5, 6)
        .Dir("tmp/", 0x3ff /* 01777 */)
        .Dir("shared/", 0x5fd /* 02775 */, 0, 50)
        .File("shared/group-file", "g\n", 0x7e4 /* 02744 */, 0, 50)
        .Dir("opaque/")
        .File("opaque/old1", "old one\n")
        .Dir("opaque/sub/")
        .File("opaque/sub/old2", "old two\n")
        .File("delete-me", "doomed\n")
        .Dir("deldir/")
        .File("deldir/x", "x\n")
        .File(LongName, "a name longer than ustar's 100 bytes\n", 0x1a4, 2, 3)
        .File("bin/setid-capped", "setid\n", 0x1ed, xattrs: new Dictionary<string, string> { ["security.capability"] = BinaryCapabilityPlaceholder })
        .Build());

    static byte[] MiddleLayer() => new TarBuilder()
        .File(".wh.delete-me", "")
        .File(".wh.deldir", "")
        .Dir("opaque/", 0x1e8 /* 0750 */, 0, 4)
        .File("opaque/.wh..wh..opq", "")
        .File("opaque/new1", "new one\n")
        .File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nberth:x:1000:1000::/home/berth:/bin/sh\n")
        .Build();

    static byte[] TopLayer() => new TarBuilder(TarEntryFormat.Gnu)
        .File("opaque/new2", "new two\n", 0x1a4, 11, 12)
        .Dir("opaque/sub/")
        .File("opaque/sub/again", "back under the opaque dir\n")
        .File("gnu/" + new string('g', 140), "a GNU long name\n")
        .Symlink("gnu/long-target", "/" + new string('t', 150))
        .Build();

    [SkippableFact]
    public async Task Overlay_of_berth_snapshots_equals_umoci_unpack_file_by_file()
    {
        using var scratch = new Scratch();
        var l1 = Layer.Gzip(BaseLayer());
        var l2Plain = Layer.Plain(MiddleLayer());
        var l2Zstd = Layer.Zstd(l2Plain.Tar);
        var l3 = Layer.Plain(TopLayer());

        var layout = new OciLayout(scratch.Dir("layout"));
        layout.AddImage("v1", [l1, l2Plain, l3]);
        var bundle = Path.Combine(scratch.Path, "bundle");
        Tool.Run("umoci", "unpack", "--image", layout.Path + ":v1", bundle);
        var umociTree = TreeDescription.Of(Path.Combine(bundle, "rootfs"));

        var store = new SnapshotStore(scratch.Dir("store"));
        string? chain = null;
        foreach (var layer in new[] { l1, l2Zstd, l3 })
            chain = await store.EnsureLayerAsync(chain, layer.DiffId, () => new MemoryStream(layer.Blob));
        Assert.Equal(LayerDigests.ChainId([l1.DiffId, l2Plain.DiffId, l3.DiffId]), chain);

        var view = store.View(chain!);
        Assert.Equal(3, view.LowerDirs.Count);
        var mnt = scratch.Mount(view, "rootfs");
        var berthTree = TreeDescription.Of(mnt);
        Assert.True(TreeDescription.Diff(umociTree, berthTree) == "", "trees differ:\n" + TreeDescription.Diff(umociTree, berthTree));

        // The equality above would also hold for two equally wrong trees: check the image's facts directly.
        Assert.True(berthTree.Count >= 25, $"only {berthTree.Count} entries");
        foreach (var gone in new[] { "/delete-me", "/deldir", "/deldir/x", "/opaque/old1", "/opaque/sub/old2" })
            Assert.False(berthTree.ContainsKey(gone), $"{gone} was deleted by layer 2 but is visible");
        foreach (var present in new[] { "/opaque/new1", "/opaque/new2", "/opaque/sub/again", "/" + LongName })
            Assert.True(berthTree.ContainsKey(present), $"{present} is missing");
        Assert.StartsWith("file mode=4755 owner=1000:1000", berthTree["/bin/tool"]);
        Assert.Contains("nlink=2", berthTree["/bin/tool-link"]);
        Assert.StartsWith("chr mode=666 owner=0:0 dev=1:3", berthTree["/dev/null"]);
        Assert.StartsWith("blk mode=660 owner=0:6 dev=7:9", berthTree["/dev/loop9"]);
        Assert.StartsWith("fifo mode=600 owner=5:6", berthTree["/run/fifo"]);
        Assert.StartsWith("dir mode=1777", berthTree["/tmp"]);
        Assert.StartsWith("dir mode=2775 owner=0:50", berthTree["/shared"]);
        Assert.StartsWith("dir mode=750 owner=0:4", berthTree["/opaque"]);
        Assert.Contains("-> /etc/passwd", berthTree["/abs-link"]);
        Assert.Contains("owner=7:8", berthTree["/abs-link"]);
        Assert.Contains("xattr:security.capability=0100000200240000", berthTree["/bin/capped"]);
        Assert.Contains("xattr:security.capability=01000002c0000000", berthTree["/bin/setid-capped"]);
        Assert.Contains("xattr:trusted.berth=742d76616c7565", berthTree["/data/xattrs"]);
        Assert.Contains("xattr:user.comment=68656c6c6f", berthTree["/data/xattrs"]);
        Assert.Contains("berth:x:1000", File.ReadAllText(Path.Combine(mnt, "etc/passwd")));

        // The middle layer's own directory holds overlayfs' forms of the OCI whiteouts.
        var middle = store.LayerFsPath(LayerDigests.ChainId([l1.DiffId, l2Plain.DiffId]));
        Assert.StartsWith("chr mode=0 owner=0:0 dev=0:0", TreeDescription.Describe(Path.Combine(middle, "delete-me")).Item1);
        Assert.StartsWith("chr mode=0 owner=0:0 dev=0:0", TreeDescription.Describe(Path.Combine(middle, "deldir")).Item1);
        Assert.Equal("y"u8.ToArray(), Xattrs.Get(Path.Combine(middle, "opaque"), "trusted.overlay.opaque"));
        Assert.False(File.Exists(Path.Combine(middle, "opaque", ".wh..wh..opq")));

        scratch.Unmount(mnt);
        Assert.Equal(3, store.Layers().Count);
        Assert.True(store.Usage(chain!).Inodes >= 6);
        store.RemoveLayer(chain!);
        store.RemoveLayer(LayerDigests.ChainId([l1.DiffId, l2Plain.DiffId]));
        store.RemoveLayer(l1.DiffId);
        Assert.Empty(store.Layers());
    }

    [SkippableFact]
    public async Task Gzip_zstd_and_plain_blobs_of_one_tar_unpack_to_identical_snapshots()
    {
        using var scratch = new Scratch();
        var tar = BaseLayer();
        var trees = new List<SortedDictionary<string, string>>();
        foreach (var layer in new[] { Layer.Gzip(tar), Layer.Zstd(tar), Layer.Plain(tar) })
        {
            var store = new SnapshotStore(scratch.Dir("store-" + trees.Count));
            var id = await store.EnsureLayerAsync(null, layer.DiffId, () => new MemoryStream(layer.Blob));
            trees.Add(TreeDescription.Of(store.LayerFsPath(id)));
        }
        Assert.True(trees[0].Count > 20);
        Assert.Equal("", TreeDescription.Diff(trees[0], trees[1]));
        Assert.Equal("", TreeDescription.Diff(trees[0], trees[2]));
    }

    static JsonNode ReadBlob(string layout, string digest) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", LayerDigests.Hex(digest))))!;

    [SkippableFact]
    public async Task A_layer_umoci_insert_wrote_without_end_marker_unpacks_like_umoci()
    {
        using var scratch = new Scratch();
        var layout = new OciLayout(scratch.Dir("layout"));
        layout.AddImage("v1", [Layer.Gzip(new TarBuilder().Dir("etc/").File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n").Build())]);
        var src = scratch.Dir("src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        File.WriteAllText(Path.Combine(src, "a.txt"), "inserted by umoci\n");
        File.WriteAllText(Path.Combine(src, "sub", "last"), new string('z', 700)); // not a multiple of 512
        Tool.Run("umoci", "insert", "--image", layout.Path + ":v1", src, "/opt/inserted");

        var indexJson = JsonNode.Parse(File.ReadAllText(Path.Combine(layout.Path, "index.json")))!;
        var descriptor = indexJson["manifests"]!.AsArray().Single(m => (string?)m!["annotations"]?["org.opencontainers.image.ref.name"] == "v1")!;
        var manifest = ReadBlob(layout.Path, (string)descriptor["digest"]!);
        var diffIds = ReadBlob(layout.Path, (string)manifest["config"]!["digest"]!)["rootfs"]!["diff_ids"]!.AsArray().Select(d => (string)d!).ToList();
        var blobs = manifest["layers"]!.AsArray().Select(l => File.ReadAllBytes(Path.Combine(layout.Path, "blobs", "sha256", LayerDigests.Hex((string)l!["digest"]!)))).ToList();
        Assert.Equal(2, blobs.Count);
        Assert.Equal(2, diffIds.Count);

        // umoci's layer stops right after the last entry's data: no padding, no end-of-archive blocks.
        var inserted = new MemoryStream();
        using (var gz = new GZipStream(new MemoryStream(blobs[1]), CompressionMode.Decompress)) gz.CopyTo(inserted);
        var insertedTar = inserted.ToArray();
        Assert.Equal(diffIds[1], LayerDigests.Sha256(insertedTar));
        Assert.NotEqual(0, insertedTar.Length % 512);
        Assert.Throws<EndOfStreamException>(() =>
        {
            using var plain = new TarReader(new MemoryStream(insertedTar));
            while (plain.GetNextEntry() is not null) { }
        });

        var bundle = Path.Combine(scratch.Path, "bundle");
        Tool.Run("umoci", "unpack", "--image", layout.Path + ":v1", bundle);
        var umociTree = TreeDescription.Of(Path.Combine(bundle, "rootfs"));

        var store = new SnapshotStore(scratch.Dir("store"));
        string? chain = null;
        for (int i = 0; i < blobs.Count; i++)
        {
            var blob = blobs[i];
            chain = await store.EnsureLayerAsync(chain, diffIds[i], () => new MemoryStream(blob));
        }
        Assert.Equal(LayerDigests.ChainId(diffIds), chain);
        var mnt = scratch.Mount(store.View(chain!), "rootfs");
        var berthTree = TreeDescription.Of(mnt);
        Assert.True(TreeDescription.Diff(umociTree, berthTree) == "", "trees differ:\n" + TreeDescription.Diff(umociTree, berthTree));
        Assert.Equal("inserted by umoci\n", File.ReadAllText(Path.Combine(mnt, "opt/inserted/a.txt")));
        Assert.Equal(new string('z', 700), File.ReadAllText(Path.Combine(mnt, "opt/inserted/sub/last")));
        Assert.True(File.Exists(Path.Combine(mnt, "etc/passwd")));
        scratch.Unmount(mnt);
    }
}
