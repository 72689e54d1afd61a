using System.Formats.Tar;
using System.Text;

namespace Berth.Snapshots.Tests;

public class PaxXattrTapTests
{
    // cap_setuid|cap_setgid: byte 4 is 0xc0, not valid UTF-8. Written with a '~' placeholder, patched after.
    internal static readonly byte[] Capability = [1, 0, 0, 2, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    internal static byte[] PatchCapability(byte[] tar)
    {
        var marker = Encoding.ASCII.GetBytes("security.capability=\u0001\0\0\u0002~");
        int at = tar.AsSpan().IndexOf(marker);
        Assert.True(at >= 0, "placeholder capability record not found");
        tar[at + marker.Length - 1] = 0xc0;
        return tar;
    }

    internal const string Placeholder = "\u0001\0\0\u0002~\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    /// <summary>Hands out at most a few bytes per read, so headers and records straddle reads.</summary>
    sealed class Trickle(Stream inner) : MemoryStream
    {
        int _n;
        public override int Read(Span<byte> buffer) => inner.Read(buffer[..Math.Min(buffer.Length, 1 + _n++ % 7)]);
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    }

    [Fact]
    public void Keeps_raw_xattr_bytes_that_TarReader_decodes_lossily()
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/"));
            var f = new PaxTarEntry(TarEntryType.RegularFile, "d/" + new string('x', 150), new Dictionary<string, string>
            {
                ["SCHILY.xattr.security.capability"] = Placeholder,
                ["SCHILY.xattr.user.text"] = "plain",
            }) { DataStream = new MemoryStream(new byte[1000]) };
            w.WriteEntry(f);
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "after") { DataStream = new MemoryStream("x"u8.ToArray()) });
            w.WriteEntry(new GnuTarEntry(TarEntryType.SymbolicLink, "gnu/" + new string('g', 200)) { LinkName = new string('t', 300) });
        }
        var tar = PatchCapability(ms.ToArray());

        var tap = new PaxXattrTap(new Trickle(new MemoryStream(tar)));
        using var reader = new TarReader(tap);
        var seen = new List<(string, Dictionary<string, byte[]>?)>();
        TarEntry? e;
        while ((e = reader.GetNextEntry()) is not null)
        {
            var raw = tap.NextEntryXattrs();
            seen.Add((e.Name, raw));
            if (raw is not null)
            {
                // What TarReader itself makes of the value: altered, which is why the tap exists.
                var decoded = ((PaxTarEntry)e).ExtendedAttributes["SCHILY.xattr.security.capability"];
                Assert.NotEqual(Capability, Encoding.UTF8.GetBytes(decoded));
                Assert.Equal(Capability, LayerApplier.Xattrs((PaxTarEntry)e, raw, e.Name).Single(x => x.Name == "security.capability").Value);
                var e2 = Assert.Throws<InvalidLayerException>(() => LayerApplier.Xattrs((PaxTarEntry)e, null, e.Name).ToList());
                Assert.Contains("security.capability", e2.Message);
            }
        }
        Assert.Equal(["d/", "d/" + new string('x', 150), "after", "gnu/" + new string('g', 200)], seen.Select(s => s.Item1));
        Assert.Null(seen[0].Item2);
        Assert.Equal(Capability, seen[1].Item2!["security.capability"]);
        Assert.Equal("plain"u8.ToArray(), seen[1].Item2!["user.text"]);
        Assert.Null(seen[2].Item2);
        Assert.Null(seen[3].Item2);
    }
}
