namespace Berth.Daemon.Containers.Archive;

/// <summary>
/// A container's rootfs lent for a copy in or out: held under the container's lock (so it cannot start, stop or be
/// removed meanwhile) and, when the container was not running, mounted for the copy alone; ending the lease closes the
/// root fd, unmounts what the lease mounted and releases the lock. dockerd does the same around its archive calls.
/// </summary>
public sealed class RootfsLease(string id, string user, bool readOnly, ContainerRoot root, Action release) : IDisposable
{
    public string Id { get; } = id;
    /// <summary>The user the container runs as (Config.User over the image's), for copyUIDGID.</summary>
    public string User { get; } = user;
    /// <summary>HostConfig.ReadonlyRootfs: nothing may be copied in.</summary>
    public bool ReadOnly { get; } = readOnly;
    public ContainerRoot Root { get; } = root;

    public void Dispose()
    {
        Root.Dispose();
        release();
    }
}
