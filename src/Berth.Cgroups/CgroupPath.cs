namespace Berth.Cgroups;

/// <summary>Validation and joining of linux.cgroupsPath (runc's cgroupfs driver semantics).</summary>
public static class CgroupPath
{
    /// <summary>
    /// The cgroup path a container gets inside each hierarchy: <paramref name="cgroupsPath"/> normalized
    /// (absolute: from the hierarchy root; relative: below the caller's own cgroup), or the relative
    /// "<paramref name="id"/>" when it is null or empty, as runc does. Refuses ".." (a path must not climb out
    /// of where it is anchored), systemd's "slice:prefix:name" form, the hierarchy root itself, and control
    /// characters.
    /// </summary>
    public static (string Path, bool IsAbsolute) Resolve(string id, string? cgroupsPath)
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            if (id.Length == 0 || id.Contains('/') || id is "." or ".." || id.Any(char.IsControl))
                throw new CgroupException($"container id \"{id}\" cannot name a cgroup directory");
            return (id, false);
        }

        string where = $"linux.cgroupsPath \"{cgroupsPath}\"";
        if (cgroupsPath.Any(char.IsControl))
            throw new CgroupException($"{where}: control characters are not allowed");
        if (!cgroupsPath.Contains('/') && cgroupsPath.Split(':').Length == 3)
            throw new CgroupException(
                $"{where} is a systemd \"slice:prefix:name\" path, but the systemd cgroup driver is not available " +
                "(berth-runtime uses cgroupfs): give a path such as \"/berth/<id>\" or \"<id>\"");

        var segments = new List<string>();
        foreach (string segment in cgroupsPath.Split('/'))
        {
            if (segment is "" or ".")
                continue;
            if (segment == "..")
                throw new CgroupException($"{where}: \"..\" is not allowed (the path must stay below its anchor)");
            segments.Add(segment);
        }
        if (segments.Count == 0)
            throw new CgroupException($"{where} names the hierarchy root or the caller's own cgroup, not a container cgroup");
        return (string.Join('/', segments), cgroupsPath.StartsWith('/'));
    }

    /// <summary>Joins a cgroup path ("/a/b" or "a/b") below a directory.</summary>
    public static string Join(string directory, string cgroup)
    {
        string rest = cgroup.Trim('/');
        if (rest.Length == 0)
            return directory;
        return directory.TrimEnd('/') + "/" + rest;
    }
}
