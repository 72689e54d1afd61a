using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using Berth.Snapshots;

namespace Berth.Snapshots.Tests;

public class LayerDecompressionTests
{
    static byte[] SampleTar()
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            var e = new PaxTarEntry(TarEntryType.RegularFile, "hello.txt") { DataStream = new MemoryStream("hello, layer\n"u8.ToArray()) };
            w.WriteEntry(e);
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/"));
        }
        // Registries' layers often carry padding after the end-of-archive blocks; it is part of the diffID.
        ms.Write(new byte[4096]);
        return ms.ToArray();
    }

    static string DiffId(byte[] tar) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar));

    // Compressed by the gzip and zstd command-line tools, not by the library that decompresses.
    internal static byte[] Compress(string tool, byte[] data)
    {
        var psi = new ProcessStartInfo(tool, ["-c"]) { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        p.StandardInput.BaseStream.Write(data);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output.ToArray();
    }

    [Theory]
    [InlineData("gzip", LayerCompression.Gzip)]
    [InlineData("zstd", LayerCompression.Zstd)]
    [InlineData(null, LayerCompression.None)]
    public void Detects_compression_and_reads_the_tar_with_a_matching_diffId(string? tool, LayerCompression expected)
    {
        var tar = SampleTar();
        var blob = tool is null ? tar : Compress(tool, tar);
        Assert.Equal(expected, LayerDecompression.Detect(blob));
        using var stream = LayerDecompression.Open(new MemoryStream(blob), DiffId(tar));
        Assert.Equal(expected, stream.Compression);
        using (var reader = new TarReader(stream, leaveOpen: true))
        {
            var entry = reader.GetNextEntry()!;
            Assert.Equal("hello.txt", entry.Name);
            Assert.Equal("hello, layer\n", new StreamReader(entry.DataStream!).ReadToEnd());
        }
        Assert.Equal(DiffId(tar), stream.Verify());
        Assert.Equal(tar.Length, stream.Position64);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    [InlineData(null)]
    public void A_diffId_mismatch_names_both_digests(string? tool)
    {
        var tar = SampleTar();
        var other = (byte[])tar.Clone();
        other[^1] = 1;
        var blob = tool is null ? other : Compress(tool, other);
        using var stream = LayerDecompression.Open(new MemoryStream(blob), DiffId(tar));
        var e = Assert.Throws<InvalidLayerException>(() => stream.Verify());
        Assert.Contains("diffID mismatch", e.Message);
        Assert.Contains(DiffId(tar), e.Message);
        Assert.Contains(DiffId(other), e.Message);
    }

    [Fact]
    public void Truncated_gzip_is_a_clear_error()
    {
        var tar = SampleTar();
        var blob = Compress("gzip", tar)[..20];
        using var stream = LayerDecompression.Open(new MemoryStream(blob), DiffId(tar));
        var e = Assert.ThrowsAny<Exception>(() => stream.Verify());
        Assert.True(e is InvalidLayerException or InvalidDataException or EndOfStreamException, e.ToString());
    }

    [Theory]
    [InlineData(new byte[] { 0x1f, 0x8b, 8, 0 }, LayerCompression.Gzip)]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2f, 0xfd }, LayerCompression.Zstd)]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2f }, LayerCompression.None)]
    [InlineData(new byte[] { 0x1f }, LayerCompression.None)]
    [InlineData(new byte[0], LayerCompression.None)]
    public void Detect_reads_only_the_magic(byte[] head, LayerCompression expected) =>
        Assert.Equal(expected, LayerDecompression.Detect(head));

    [Fact]
    public void Pax_xattr_records_are_decoded_with_their_names()
    {
        var pax = new PaxTarEntry(TarEntryType.RegularFile, "f", new Dictionary<string, string>
        {
            ["SCHILY.xattr.user.comment"] = "hi",
            ["SCHILY.xattr.security.capability"] = "\u0001\0\0\u0002\0\u0004\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ["LIBARCHIVE.xattr.user.with%20space"] = Convert.ToBase64String([0xff, 0x00, 0x80]),
            ["mtime"] = "1700000000",
        });
        var xattrs = LayerApplier.Xattrs(pax, null, "f").ToDictionary(x => x.Name, x => x.Value);
        Assert.Equal(3, xattrs.Count);
        Assert.Equal("hi"u8.ToArray(), xattrs["user.comment"]);
        Assert.Equal(new byte[] { 1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, xattrs["security.capability"]);
        Assert.Equal(new byte[] { 0xff, 0x00, 0x80 }, xattrs["user.with space"]);
    }
}
