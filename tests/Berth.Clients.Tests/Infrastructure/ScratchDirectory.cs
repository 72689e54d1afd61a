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
        // An engine's helpers may still be going away (podman's conmon writes its exit files after `rm --force`
        // returns; a CI run saw the delete fail twice 500 ms apart): detach and delete again for up to 10 s.
        for (int attempt = 1; ; attempt++)
        {
            foreach (var mountPoint in MountsBelow())
                Tool.Run("/tmp", "umount", ["-l", mountPoint]);
            try
            {
                if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 20)
            {
                Thread.Sleep(500);
            }
            catch (IOException e)
            {
                throw new IOException($"could not remove {Path} within 10 s: {e.Message}", e);
            }
        }
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
