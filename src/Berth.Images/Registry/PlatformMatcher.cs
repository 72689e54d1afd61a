namespace Berth.Images.Registry;

/// <summary>
/// Chooses the manifest for a platform from an index, as docker does: OS and architecture must match
/// (x86_64 is amd64, aarch64 is arm64); without a wanted variant, amd64 takes only "" or "v1" (a v3 build
/// may not run on this CPU), arm64 "" or "v8", arm "" or "v7"; a wanted variant must match exactly. Among matches the first listed wins.
/// </summary>
public static class PlatformMatcher
{
    public static readonly Platform Default = new() { Os = "linux", Architecture = "amd64" };

    public static Descriptor Select(ImageIndex index, Platform wanted, string what)
    {
        foreach (var entry in index.Manifests)
            if (entry.Platform is { } p && MediaTypes.IsManifest(entry.MediaType) && Matches(p, wanted))
                return entry;
        var listed = string.Join(", ", index.Manifests.Select(m => m.Platform?.ToString() ?? "unknown"));
        throw new PlatformNotFoundException(
            $"no matching manifest for {wanted} in the manifest list entries ({what} has: {(listed.Length == 0 ? "none" : listed)})");
    }

    public static bool Matches(Platform candidate, Platform wanted)
    {
        if (!string.Equals(candidate.Os, wanted.Os, StringComparison.OrdinalIgnoreCase)) return false;
        var arch = NormalizeArch(candidate.Architecture);
        if (arch != NormalizeArch(wanted.Architecture)) return false;
        var have = NormalizeVariant(arch, candidate.Variant);
        var want = NormalizeVariant(arch, wanted.Variant);
        if (want.Length == 0) return have.Length == 0 || (arch == "arm" && have == "v7");
        return have == want || (arch == "amd64" && have.Length == 0 && want == "v1");
    }

    private static string NormalizeArch(string arch) => arch.ToLowerInvariant() switch
    {
        "x86_64" or "x86-64" => "amd64",
        "aarch64" => "arm64",
        "armhf" or "armel" => "arm",
        "i386" => "386",
        var a => a,
    };

    private static string NormalizeVariant(string arch, string? variant)
    {
        var v = (variant ?? "").ToLowerInvariant();
        return (arch, v) switch
        {
            ("arm64", "v8" or "8") => "",
            ("amd64", "v1") => "",
            ("arm", "7") => "v7",
            ("arm", "6") => "v6",
            _ => v,
        };
    }
}
