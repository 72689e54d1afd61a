using System.IO.Compression;
using System.Security.Cryptography;
using ZstdSharp;

namespace Berth.Snapshots;

public enum LayerCompression { None, Gzip, Zstd }

/// <summary>
/// Opens a layer blob as its uncompressed tar stream: the compression is detected by its magic number (gzip,
/// zstd, else a plain tar), and the uncompressed bytes are hashed as they are read so the caller can check the
/// diffID at the end with <see cref="DiffIdStream.Verify"/>.
/// </summary>
public static class LayerDecompression
{
    static ReadOnlySpan<byte> GzipMagic => [0x1f, 0x8b];
    static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xb5, 0x2f, 0xfd];

    public static LayerCompression Detect(ReadOnlySpan<byte> head) =>
        head.StartsWith(GzipMagic) ? LayerCompression.Gzip :
        head.StartsWith(ZstdMagic) ? LayerCompression.Zstd :
        LayerCompression.None;

    /// <summary>Wraps <paramref name="blob"/> (owned from now on) in a decompressing, diffID-hashing stream.</summary>
    public static DiffIdStream Open(Stream blob, string expectedDiffId)
    {
        LayerDigests.Validate(expectedDiffId, "diffID");
        var head = new byte[4];
        int n = blob.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var compression = Detect(head.AsSpan(0, n));
        Stream whole = new PrefixedStream(head.AsMemory(0, n), blob);
        Stream tar = compression switch
        {
            LayerCompression.Gzip => new GZipStream(whole, CompressionMode.Decompress),
            LayerCompression.Zstd => new DecompressionStream(whole),
            _ => whole,
        };
        return new DiffIdStream(tar, compression, expectedDiffId);
    }
}

/// <summary>The uncompressed tar of a layer, hashed while it is read.</summary>
public sealed class DiffIdStream : ReadOnlyForwardStream
{
    readonly Stream _inner;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    bool _ended;

    internal DiffIdStream(Stream inner, LayerCompression compression, string expectedDiffId)
    {
        _inner = inner;
        Compression = compression;
        ExpectedDiffId = expectedDiffId;
    }

    public LayerCompression Compression { get; }
    public string ExpectedDiffId { get; }
    public long Position64 { get; private set; }

    /// <summary>
    /// Reads what the tar reader left (the padding after the end-of-archive blocks belongs to the diffID too) and
    /// throws <see cref="InvalidLayerException"/> unless the sha256 of all of it is the expected diffID.
    /// </summary>
    public string Verify()
    {
        var buffer = new byte[81920];
        try
        {
            while (Read(buffer, 0, buffer.Length) > 0) { }
        }
        catch (InvalidDataException e)
        {
            throw new InvalidLayerException($"layer {ExpectedDiffId}: corrupt {Compression} data: {e.Message}", e);
        }
        var actual = LayerDigests.FromHash(_hash.GetCurrentHash());
        if (actual != ExpectedDiffId)
            throw new InvalidLayerException(
                $"layer diffID mismatch: expected {ExpectedDiffId}, the uncompressed layer ({Position64} bytes, {Compression}) is {actual}");
        return actual;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_ended || buffer.IsEmpty) return 0;
        int n = _inner.Read(buffer);
        if (n == 0) _ended = true;
        _hash.AppendData(buffer[..n]);
        Position64 += n;
        return n;
    }

    public override long Position { get => Position64; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>The bytes read ahead to sniff the magic number, then the rest of the stream.</summary>
sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyForwardStream
{
    ReadOnlyMemory<byte> _prefix = prefix;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_prefix.IsEmpty) return rest.Read(buffer);
        int n = Math.Min(buffer.Length, _prefix.Length);
        _prefix.Span[..n].CopyTo(buffer);
        _prefix = _prefix[n..];
        return n;
    }


    protected override void Dispose(bool disposing)
    {
        if (disposing) rest.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>A layer that cannot be applied: bad digest, corrupt data, or an entry that would escape the snapshot.</summary>
public sealed class InvalidLayerException(string message, Exception? inner = null) : Exception(message, inner);
