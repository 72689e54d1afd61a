using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Berth.Images;

/// <summary>
/// A normalised image reference, as docker reads one: <c>busybox</c> is
/// <c>docker.io/library/busybox:latest</c>; a first path component holding '.' or ':', or equal to
/// "localhost", or not lowercase, is a registry; <c>index.docker.io</c> is <c>docker.io</c>.
/// A reference may carry a tag, a digest or both (the digest then decides what is pulled).
/// </summary>
public sealed partial record ImageReference
{
    public const string DefaultDomain = "docker.io";
    public const string DefaultTag = "latest";
    private const string LegacyDefaultDomain = "index.docker.io";
    private const string OfficialRepoPrefix = "library/";
    /// <summary>Docker's limit on a full name (domain + path).</summary>
    public const int NameTotalLengthMax = 255;

    /// <summary>The registry host (with port), e.g. "docker.io" or "127.0.0.1:5000".</summary>
    public string Domain { get; }
    /// <summary>The repository path inside the registry, e.g. "library/busybox".</summary>
    public string Path { get; }
    public string? Tag { get; }
    public Digest? Digest { get; }

    private ImageReference(string domain, string path, string? tag, Digest? digest)
    {
        Domain = domain;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>The full repository name, e.g. "docker.io/library/busybox".</summary>
    public string Name => $"{Domain}/{Path}";

    /// <summary>The name as docker shows it: "busybox", "user/app", "127.0.0.1:5000/x".</summary>
    public string FamiliarName =>
        Domain == DefaultDomain
            ? Path.StartsWith(OfficialRepoPrefix, StringComparison.Ordinal) && Path.IndexOf('/', OfficialRepoPrefix.Length) < 0
                ? Path[OfficialRepoPrefix.Length..]
                : Path
            : Name;

    /// <summary>What docker prints for this reference: familiar name with tag and/or digest.</summary>
    public string FamiliarString => FamiliarName + Suffix;

    /// <summary>What a registry request names: the digest when there is one, else the tag.</summary>
    public string RegistryReference => Digest?.ToString() ?? Tag ?? DefaultTag;

    public ImageReference WithTag(string tag)
    {
        if (!TagPattern().IsMatch(tag)) throw new ReferenceException(tag, "invalid tag format");
        return new(Domain, Path, tag, null);
    }

    public ImageReference WithDigest(Digest digest) => new(Domain, Path, null, digest);

    /// <summary>The name alone (no tag or digest).</summary>
    public ImageReference NameOnly() => new(Domain, Path, null, null);

    public override string ToString() => Name + Suffix;

    private string Suffix => (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>Parses and normalises like docker's ParseNormalizedNamed, then adds ":latest" when neither a tag nor a digest is given.</summary>
    public static ImageReference Parse(string text)
    {
        var reference = ParseNormalized(text);
        return reference.Tag is null && reference.Digest is null
            ? new ImageReference(reference.Domain, reference.Path, DefaultTag, null)
            : reference;
    }

    public static bool TryParse(string text, [NotNullWhen(true)] out ImageReference? reference)
    {
        try
        {
            reference = Parse(text);
            return true;
        }
        catch (ReferenceException)
        {
            reference = null;
            return false;
        }
    }

    /// <summary>Parses and normalises without adding a default tag (a bare name stays bare: for "push all tags" and search).</summary>
    public static ImageReference ParseNormalized(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new ReferenceException(text, "invalid reference format");
        if (AnchoredIdentifier().IsMatch(text))
            throw new ReferenceException(text, "invalid repository name, cannot specify 64-byte hexadecimal strings");

        // Split off the digest, then the tag: a tag's ':' comes after the last '/' (a port's does not).
        string? digestText = null;
        var rest = text;
        var at = rest.IndexOf('@');
        if (at >= 0)
        {
            digestText = rest[(at + 1)..];
            rest = rest[..at];
        }
        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
        }

        var (domain, path) = SplitDomain(rest);
        if (path.Any(char.IsAsciiLetterUpper))
            throw new ReferenceException(text, $"invalid reference format: repository name ({path}) must be lowercase");
        if (!DomainPattern().IsMatch(domain) || !PathPattern().IsMatch(path))
            throw new ReferenceException(text, "invalid reference format");
        if (domain.Length + 1 + path.Length > NameTotalLengthMax)
            throw new ReferenceException(text, $"invalid reference format: repository name must not be more than {NameTotalLengthMax} characters");
        if (tag is not null && !TagPattern().IsMatch(tag))
            throw new ReferenceException(text, "invalid reference format");
        Digest? digest = null;
        if (digestText is not null)
        {
            if (!Images.Digest.TryParse(digestText, out var parsed))
                throw new ReferenceException(text, DigestShapePattern().IsMatch(digestText)
                    ? $"invalid reference format: unsupported digest \"{digestText}\" (only sha256:<64 hex>)"
                    : "invalid reference format");
            digest = parsed;
        }
        return new ImageReference(domain, path, tag, digest);
    }

    private static (string Domain, string Path) SplitDomain(string name)
    {
        string domain, path;
        var slash = name.IndexOf('/');
        var first = slash < 0 ? "" : name[..slash];
        if (slash < 0 || (first.IndexOfAny(['.', ':']) < 0 && first != "localhost" && first.ToLowerInvariant() == first))
        {
            domain = DefaultDomain;
            path = name;
        }
        else
        {
            domain = first;
            path = name[(slash + 1)..];
        }
        if (domain == LegacyDefaultDomain) domain = DefaultDomain;
        if (domain == DefaultDomain && !path.Contains('/')) path = OfficialRepoPrefix + path;
        return (domain, path);
    }

    // docker/distribution reference grammar (written out from the grammar in its documentation).
    [GeneratedRegex(@"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex PathPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^[a-f0-9]{64}$")]
    private static partial Regex AnchoredIdentifier();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")]
    private static partial Regex DigestShapePattern();
}

/// <summary>A reference that docker would refuse; the message names the reference.</summary>
public sealed class ReferenceException(string reference, string reason)
    : FormatException($"{reason}: \"{reference}\"")
{
    public string Reference { get; } = reference;
    public string Reason { get; } = reason;
}
