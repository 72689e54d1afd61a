namespace Berth.Daemon.Containers.Archive;

/// <summary>
/// A container's rootfs lent for a copy in or out: held under the container's lock (so it cannot start, stop or be
/// removed meanwhile) and, when the container was not running, mounted for the copy alone; ending the lease closes the
/// root fd, unmounts what the lease mounted and releases the lock. dockerd does the same around its archive calls.
/// </summary>
public sealed class RootfsLease(string id, string user, bool readOnly, ContainerRoot root, Action release,
    IReadOnlyList<string>? mountDestinations = null) : IDisposable
{
    public string Id { get; } = id;
    /// <summary>The user the container runs as (Config.User over the image's), for copyUIDGID.</summary>
    public string User { get; } = user;
    /// <summary>HostConfig.ReadonlyRootfs: nothing may be copied in.</summary>
    public bool ReadOnly { get; } = readOnly;
    public ContainerRoot Root { get; } = root;
    /// <summary>Where the container's binds and --mount tmpfs go: the rootfs on the host does not show what they hold.</summary>
    public IReadOnlyList<string> MountDestinations { get; } = mountDestinations ?? [];

    /// <summary>
    /// Refuses a copy whose path (as given, and again as resolved in the rootfs) is a user mount, lies below one, or holds
    /// one: dockerd copies through the mounts, Berth's copy sees only the rootfs under them, and would read or write the
    /// wrong files. A stat (<paramref name="statOnly"/>) of a mount point or of a directory above one is let through: the
    /// docker CLI stats the destination of a copy before it sends the files, whose refusal then says why.
    /// </summary>
    public void RefuseMounts(string path, string requested, bool statOnly)
    {
        foreach (string mount in MountDestinations)
        {
            bool below = path.StartsWith(mount + "/", StringComparison.Ordinal);
            bool reaches = path == mount || mount.StartsWith(path.TrimEnd('/') + "/", StringComparison.Ordinal);
            if (below || (reaches && !statOnly))
                throw Api.ApiException.BadRequest($"copying {requested} in container {Id} is not supported yet: it reaches the mount at {mount} " +
                    "(-v or --mount), and Berth copies only the container's own files");
        }
    }

    public void Dispose()
    {
        Root.Dispose();
        release();
    }
}
