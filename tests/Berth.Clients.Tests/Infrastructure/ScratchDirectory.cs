namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// A private directory under /tmp/berth-clients for one client's state (root, run root, sockets, image files).
/// Disposing it detaches every mount below it (lazily, deepest first: engines leave overlay and shm mounts behind
/// when they die) and deletes it. Paths stay short: unix socket paths are limited to 107 bytes.
/// </summary>
public sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory(string prefix)
    {
        Directory.CreateDirectory("/tmp/berth-clients");
        Path = Directory.CreateTempSubdirectory($"{prefix}-").FullName;
        // CreateTempSubdirectory uses $TMPDIR; keep everything under one known place for leak hunting.
        var wanted = System.IO.Path.Combine("/tmp/berth-clients", System.IO.Path.GetFileName(Path));
        Directory.Move(Path, wanted);
        Path = wanted;
    }

    public string Path { get; }

    public string Sub(params string[] parts)
    {
        var path = System.IO.Path.Combine([Path, .. parts]);
        return path;
    }

    public IReadOnlyList<string> MountsBelow() =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => Unescape(line.Split(' ')[4]))
            .Where(mountPoint => mountPoint == Path || mountPoint.StartsWith(Path + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(mountPoint => mountPoint.Length)
            .ToList();

    public void Dispose()
    {
        foreach (var mountPoint in MountsBelow())
            Tool.Run("/tmp", "umount", ["-l", mountPoint]);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still busy (an engine that has not died yet): retry once after a moment.
            Thread.Sleep(500);
            Directory.Delete(Path, recursive: true);
        }
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
