using Berth.Daemon.Api;

namespace Berth.Daemon.Containers.Archive;

/// <summary>
/// The <c>path</c> of an archive request, as dockerd reads it: taken from the container's "/" even when relative,
/// cleaned lexically (".." stops at "/"), and remembering whether it ended in "/" or "/.": then its last component is
/// followed when it is a symlink, and "/." names a directory's contents rather than the directory.
/// </summary>
public sealed class ContainerPath
{
    ContainerPath(string requested, IReadOnlyList<string> parts, bool trailingSeparator, bool trailingDot)
    {
        Requested = requested;
        Parts = parts;
        TrailingSeparator = trailingSeparator;
        TrailingDot = trailingDot;
    }

    /// <summary>The path as the client sent it (for error messages, as dockerd quotes it).</summary>
    public string Requested { get; }
    /// <summary>The components below the container's "/", cleaned; empty for "/".</summary>
    public IReadOnlyList<string> Parts { get; }
    public bool TrailingSeparator { get; }
    public bool TrailingDot { get; }

    /// <summary>Whether a final symlink is followed: the path ended in "/" or "/." (or is the root).</summary>
    public bool FollowsLast => TrailingSeparator || TrailingDot || Parts.Count == 0;

    /// <summary>The cleaned absolute path, without the trailing separator or dot.</summary>
    public string Clean => "/" + string.Join('/', Parts);

    /// <summary>
    /// The name the path's entries start with in the tar and the stat's name: Go's filepath.Base of the path with its
    /// trailing "/." kept — "." for "/dir/.", "/" for the root, else the last component.
    /// </summary>
    public string BaseName => TrailingDot ? "." : Parts.Count == 0 ? "/" : Parts[^1];

    /// <exception cref="ApiException">400 when the path is empty.</exception>
    public static ContainerPath Parse(string? path)
    {
        if (string.IsNullOrEmpty(path)) throw ApiException.BadRequest("bad parameter: path cannot be empty");
        if (path.Contains('\0')) throw ApiException.BadRequest("bad parameter: path contains a NUL byte");
        var parts = new List<string>();
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        bool dot = path == "." || path.EndsWith("/.", StringComparison.Ordinal);
        bool separator = path.EndsWith('/');
        return new ContainerPath(path, parts, separator, dot);
    }

    /// <summary>
    /// A path below this one (for a tar entry), cleaned lexically; null when its ".." components climb above this
    /// path (dockerd refuses such an entry as "outside of" the destination).
    /// </summary>
    public static List<string>? Below(string entryName)
    {
        var parts = new List<string>();
        foreach (var part in entryName.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0) return null;
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return parts;
    }
}
