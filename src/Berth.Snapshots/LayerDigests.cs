using System.Security.Cryptography;
using System.Text;

namespace Berth.Snapshots;

/// <summary>sha256 digests of layers: validation, and chain IDs as the OCI image spec defines them.</summary>
public static class LayerDigests
{
    const string Prefix = "sha256:";

    /// <summary>chainID(L1) = diffID(L1); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)).</summary>
    public static string ChainId(string? parentChainId, string diffId)
    {
        Validate(diffId, "diffID");
        if (parentChainId is null) return diffId;
        Validate(parentChainId, "parent chainID");
        return Sha256(Encoding.UTF8.GetBytes(parentChainId + " " + diffId));
    }

    /// <summary>The chain ID of the top layer of a stack given bottom-first.</summary>
    public static string ChainId(IEnumerable<string> diffIdsBottomFirst)
    {
        string? chain = null;
        foreach (var diffId in diffIdsBottomFirst) chain = ChainId(chain, diffId);
        return chain ?? throw new ArgumentException("an image needs at least one layer to have a chainID");
    }

    public static string Sha256(ReadOnlySpan<byte> data) => Prefix + Convert.ToHexStringLower(SHA256.HashData(data));

    public static string FromHash(byte[] hash) => Prefix + Convert.ToHexStringLower(hash);

    /// <summary>Throws unless the digest is "sha256:" and 64 lowercase hex digits; <paramref name="what"/> names it.</summary>
    public static void Validate(string digest, string what)
    {
        if (!IsValid(digest))
            throw new ArgumentException($"invalid {what} \"{digest}\": expected sha256: and 64 lowercase hex digits");
    }

    public static bool IsValid(string digest) =>
        digest.Length == Prefix.Length + 64 && digest.StartsWith(Prefix, StringComparison.Ordinal) &&
        digest.AsSpan(Prefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;

    /// <summary>The 64 hex digits, used as a directory name.</summary>
    public static string Hex(string digest) => digest[Prefix.Length..];
}
