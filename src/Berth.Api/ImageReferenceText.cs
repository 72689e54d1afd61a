namespace Berth.Api;

/// <summary>
/// The split a client makes before POST /images/create: repository, and tag or digest. No normalisation
/// (docker.io/library/ is the image library's business), only where the tag starts.
/// </summary>
public static class ImageReferenceText
{
    /// <summary><c>host:5000/a/b:tag</c> → (<c>host:5000/a/b</c>, <c>tag</c>); <c>a@sha256:..</c> → (<c>a</c>, <c>sha256:..</c>); no tag → null.</summary>
    public static (string Repository, string? TagOrDigest) Split(string reference)
    {
        int at = reference.IndexOf('@');
        if (at >= 0) return (reference[..at], reference[(at + 1)..]);
        int colon = reference.LastIndexOf(':');
        // A colon before the last slash belongs to the registry's port.
        if (colon > reference.LastIndexOf('/')) return (reference[..colon], reference[(colon + 1)..]);
        return (reference, null);
    }
}
