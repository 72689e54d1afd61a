using System.Formats.Tar;
using Berth.Linux;

namespace Berth.Snapshots.RootTests;

/// <summary>LayerApplier on its own: entries that replace each other, directory times, attributes of implicit directories.</summary>
public sealed class LayerApplierTests : IDisposable
{
    readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    static Libc.Stat Lstat(string path)
    {
        Assert.Equal(0, Libc.fstatat(Libc.AT_FDCWD, path, out var st, Libc.AT_SYMLINK_NOFOLLOW));
        return st;
    }

    static LayerApplyStats Apply(byte[] tar, string dir, IReadOnlyList<string>? parents = null) =>
        LayerApplier.Apply(new MemoryStream(tar), dir, parents);

    [SkippableFact]
    public void Later_entries_replace_earlier_ones_of_another_type()
    {
        var fs = _scratch.Dir("fs");
        var stats = Apply(new TarBuilder()
            .File("x", "file first")
            .Dir("x/", 0x1c0, 3, 4)
            .File("x/inner", "in")
            .Dir("y/")
            .File("y/child", "c")
            .Symlink("y", "/target")
            .File("z", "one")
            .File("z", "two")
            .Build(), fs);
        Assert.Equal(8, stats.Entries);
        Assert.StartsWith("dir mode=700 owner=3:4", TreeDescription.Describe(Path.Combine(fs, "x")).Item1);
        Assert.Equal("/target", new FileInfo(Path.Combine(fs, "y")).LinkTarget);
        Assert.Equal("two", File.ReadAllText(Path.Combine(fs, "z")));
    }

    [SkippableFact]
    public void Directory_times_are_the_entry_times_even_when_children_come_first_or_later()
    {
        var fs = _scratch.Dir("fs");
        var tar = new TarBuilder()
            .File("a/early", "child before its directory")
            .Dir("a/", 0x1ed)
            .Dir("b/")
            .File("b/late", "child after its directory")
            .Build();
        Apply(tar, fs);
        var times = new Dictionary<string, DateTimeOffset>();
        using (var reader = new TarReader(new MemoryStream(tar)))
            for (TarEntry? e; (e = reader.GetNextEntry()) is not null;) times[e.Name] = e.ModificationTime;
        Assert.Equal(times["a/"].ToUnixTimeSeconds(), Lstat(Path.Combine(fs, "a")).Mtime);
        Assert.Equal(times["b/"].ToUnixTimeSeconds(), Lstat(Path.Combine(fs, "b")).Mtime);
        Assert.Equal(times["b/late"].ToUnixTimeSeconds(), Lstat(Path.Combine(fs, "b/late")).Mtime);
    }

    [SkippableFact]
    public void Implicit_directories_take_their_attributes_from_the_layers_below_unless_hidden()
    {
        var lower = _scratch.Dir("lower");
        Apply(new TarBuilder()
            .Dir("kept/", 0x1e8, 7, 8, new Dictionary<string, string> { ["user.note"] = "lower" })
            .Dir("gone/", 0x1c0, 9, 9)
            .Dir("opq/", 0x1ed)
            .Dir("opq/inner/", 0x1c0, 5, 5)
            .Dir("late/", 0x1e8, 7, 8)
            .Build(), lower);
        var middle = _scratch.Dir("middle");
        Apply(new TarBuilder().File(".wh.gone", "").File("opq/.wh..wh..opq", "").Build(), middle);
        var upper = _scratch.Dir("upper");
        Apply(new TarBuilder().File("kept/f", "").File("gone/f", "").File("opq/inner/f", "").File("new/f", "")
            .File("late/f", "").Dir("late/", 0x1c0, 1, 2).Build(), upper, [middle, lower]);

        Assert.StartsWith("dir mode=750 owner=7:8", TreeDescription.Describe(Path.Combine(upper, "kept")).Item1);
        Assert.Equal("lower"u8.ToArray(), Xattrs.Get(Path.Combine(upper, "kept"), "user.note"));
        Assert.Equal(Lstat(Path.Combine(lower, "kept")).Mtime, Lstat(Path.Combine(upper, "kept")).Mtime);
        // An implicit directory that the layer lists later gets the listed attributes and time, not the lower ones.
        Assert.StartsWith("dir mode=700 owner=1:2", TreeDescription.Describe(Path.Combine(upper, "late")).Item1);
        Assert.NotEqual(Lstat(Path.Combine(lower, "late")).Mtime, Lstat(Path.Combine(upper, "late")).Mtime);
        Assert.Equal(Lstat(Path.Combine(upper, "late/f")).Mtime + 37, Lstat(Path.Combine(upper, "late")).Mtime);
        // Whited out, hidden under an opaque directory, or new: a plain 0755 root directory.
        Assert.StartsWith("dir mode=755 owner=0:0", TreeDescription.Describe(Path.Combine(upper, "gone")).Item1);
        Assert.StartsWith("dir mode=755 owner=0:0", TreeDescription.Describe(Path.Combine(upper, "opq/inner")).Item1);
        Assert.StartsWith("dir mode=755 owner=0:0", TreeDescription.Describe(Path.Combine(upper, "new")).Item1);
    }

    [SkippableFact]
    public void Unsupported_entry_types_and_corrupt_tars_are_named()
    {
        // Cut after the PAX header of the only entry (its path record came), before the entry's own header.
        var e = Assert.Throws<InvalidLayerException>(() => Apply(new TarBuilder().File("ok", "x").Build()[..700], _scratch.Dir("a")));
        Assert.Equal("layer tar ends inside the header of entry 1 \"ok\"", e.Message);
        var garbage = new TarBuilder().File("ok", "x").Build();
        garbage.AsSpan(0, 512).Fill((byte)'g');
        var corrupt = Assert.Throws<InvalidLayerException>(() => Apply(garbage, _scratch.Dir("c")));
        Assert.StartsWith("layer tar is corrupt after 0 entries: ", corrupt.Message);
        var root = Assert.Throws<InvalidLayerException>(() => Apply(new TarBuilder().File("./", "x").Build(), _scratch.Dir("b")));
        Assert.Contains("names the root", root.Message);
    }

    [SkippableFact]
    public void A_layer_without_end_marker_is_applied_whole_but_one_cut_inside_an_entry_is_refused()
    {
        var b = new string('b', 1000);
        var tar = new TarBuilder().Dir("etc/", 0x1e8).File("etc/a", "alpha\n", 0x180, 5, 6).File("etc/b", b).Build();
        long bData = tar.Length - 1024 - 1024; // end marker, then "etc/b"'s 1000 bytes padded to 1024
        foreach (var (label, end) in new[] { ("no end marker", tar.Length - 1024), ("no padding either", bData + 1000) })
        {
            var fs = _scratch.Dir(label.Replace(' ', '-'));
            Assert.Equal(3, Apply(tar[..(int)end], fs).Entries);
            Assert.StartsWith("dir mode=750", TreeDescription.Describe(Path.Combine(fs, "etc")).Item1);
            Assert.StartsWith("file mode=600 owner=5:6 size=6", TreeDescription.Describe(Path.Combine(fs, "etc/a")).Item1);
            Assert.Equal("alpha\n", File.ReadAllText(Path.Combine(fs, "etc/a")));
            Assert.Equal(b, File.ReadAllText(Path.Combine(fs, "etc/b")));
        }
        var data = Assert.Throws<InvalidLayerException>(() => Apply(tar[..(int)(bData + 300)], _scratch.Dir("cut-data")));
        Assert.Equal("layer tar ends inside the data of entry 3 \"etc/b\": 300 of its 1000 bytes arrived", data.Message);
        var header = Assert.Throws<InvalidLayerException>(() => Apply(tar[..(int)(bData - 200)], _scratch.Dir("cut-header")));
        Assert.Equal("layer tar ends inside the header of entry 3 \"etc/b\" (after \"etc/a\")", header.Message);
    }
}
