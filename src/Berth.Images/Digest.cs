using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Images;

/// <summary>
/// A content digest, "sha256:" followed by 64 lowercase hex digits. sha256 is the only algorithm
/// accepted: it is the only one registries and docker produce, and one algorithm keeps the store's
/// layout (blobs/sha256/HEX) and its verification simple.
/// </summary>
[JsonConverter(typeof(DigestJsonConverter))]
public readonly record struct Digest : IComparable<Digest>
{
    public const string Sha256 = "sha256";
    private const int HexLength = 64;

    private readonly string? _hex;

    private Digest(string hex) => _hex = hex;

    /// <summary>The algorithm: always "sha256".</summary>
    public string Algorithm => Sha256;

    /// <summary>The 64 lowercase hex digits.</summary>
    public string Hex => _hex ?? throw new InvalidOperationException("default(Digest) has no value");

    /// <summary>The first 12 hex digits, as docker shows image ids and layer ids.</summary>
    public string Short => Hex[..12];

    public override string ToString() => _hex is null ? "" : $"{Sha256}:{_hex}";

    public static Digest Parse(string text) =>
        TryParse(text, out var digest, out var error) ? digest : throw new FormatException(error);

    public static bool TryParse([NotNullWhen(true)] string? text, out Digest digest) => TryParse(text, out digest, out _);

    private static bool TryParse(string? text, out Digest digest, out string error)
    {
        digest = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "invalid digest \"\": empty";
            return false;
        }
        var colon = text.IndexOf(':');
        if (colon < 0)
        {
            error = $"invalid digest \"{text}\": expected \"sha256:<64 hex digits>\"";
            return false;
        }
        var algorithm = text[..colon];
        if (algorithm != Sha256)
        {
            error = $"invalid digest \"{text}\": unsupported algorithm \"{algorithm}\" (only sha256)";
            return false;
        }
        var hex = text[(colon + 1)..];
        if (!IsHex(hex))
        {
            error = $"invalid digest \"{text}\": expected 64 lowercase hex digits after \"sha256:\"";
            return false;
        }
        digest = new Digest(hex);
        error = "";
        return true;
    }

    /// <summary>Parses 64 hex digits without the "sha256:" prefix (an image id as docker prints it in full).</summary>
    public static bool TryParseHex(string? hex, out Digest digest)
    {
        digest = IsHex(hex) ? new Digest(hex!) : default;
        return hex is not null && digest._hex is not null;
    }

    public static bool IsHex(string? hex)
    {
        if (hex is null || hex.Length != HexLength) return false;
        foreach (var c in hex)
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        return true;
    }

    public static Digest Compute(ReadOnlySpan<byte> data) => FromHash(SHA256.HashData(data));

    public static Digest Compute(Stream stream) => FromHash(SHA256.HashData(stream));

    public static async Task<Digest> ComputeAsync(Stream stream, CancellationToken cancellationToken = default) =>
        FromHash(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));

    internal static Digest FromHash(ReadOnlySpan<byte> hash) => new(Convert.ToHexStringLower(hash));

    public bool IsDefault => _hex is null;

    public int CompareTo(Digest other) => string.CompareOrdinal(_hex, other._hex);
}

/// <summary>Reads and writes a digest as its string form, failing with the digest's own error message.</summary>
public sealed class DigestJsonConverter : JsonConverter<Digest>
{
    public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString();
        try
        {
            return Digest.Parse(text ?? "");
        }
        catch (FormatException e)
        {
            throw new JsonException(e.Message, e);
        }
    }

    public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());

    public override Digest ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Read(ref reader, typeToConvert, options);

    public override void WriteAsPropertyName(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) =>
        writer.WritePropertyName(value.ToString());
}
