namespace Berth.Snapshots;

/// <summary>
/// Cleans a tar entry name into path components relative to the snapshot root, as docker does: an absolute
/// name is confined into the root ("/etc/x" is "etc/x", and ".." at the root of an absolute name stays at the
/// root), while a relative name whose ".." climbs above the root is a breakout and is rejected. Symlinks met
/// along the way are not handled here: they are resolved in the root by openat2 (RESOLVE_IN_ROOT).
/// </summary>
public static class LayerPath
{
    /// <summary>The components of <paramref name="name"/>; empty for the root itself.</summary>
    public static string[] Clean(string name, string what = "entry")
    {
        if (name.Contains('\0')) throw new InvalidLayerException($"{what} \"{name.Replace("\0", "\\0")}\" contains a NUL byte");
        bool absolute = name.StartsWith('/');
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                if (parts.Count > 0) parts.RemoveAt(parts.Count - 1);
                else if (!absolute) throw new InvalidLayerException($"{what} \"{name}\" points outside the snapshot (\"..\" above its root)");
                continue;
            }
            parts.Add(part);
        }
        return [.. parts];
    }

    public static string Join(IEnumerable<string> parts) => string.Join('/', parts);
}
