using Berth.Linux;
using Berth.Snapshots;

namespace Berth.Daemon.Containers;

/// <summary>
/// A container's root filesystem: an overlay of its image's layer snapshots (lower, top first) and its own
/// writable layer <c>&lt;container dir&gt;/rw/{upper,work}</c>, mounted at <c>&lt;container dir&gt;/rootfs</c> while it
/// runs. The overlay is always read-write, as dockerd's; --read-only is the spec's root.readonly.
/// </summary>
public static class RootfsMounter
{
    public static string RootfsPath(string containerDir) => Path.Combine(containerDir, "rootfs");

    /// <summary>Creates the writable layer's directories (kept until the container is removed).</summary>
    public static void PrepareLayer(string containerDir)
    {
        string upper = Path.Combine(containerDir, "rw", "upper");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(Path.Combine(containerDir, "rw", "work"));
        Directory.CreateDirectory(RootfsPath(containerDir));
        File.SetUnixFileMode(upper, (UnixFileMode)0x1ed);
    }

    /// <summary>Mounts the overlay at the rootfs path; returns that path.</summary>
    /// <param name="lowerDirsTopFirst">The image's layer directories, top first (none for an empty image).</param>
    public static string Mount(string containerDir, IReadOnlyList<string> lowerDirsTopFirst)
    {
        PrepareLayer(containerDir);
        string target = RootfsPath(containerDir);
        if (IsMounted(target)) return target;
        var upper = Path.Combine(containerDir, "rw", "upper");
        var work = Path.Combine(containerDir, "rw", "work");
        // An image without layers still needs a lower dir: overlay refuses none.
        IReadOnlyList<string> lowers = lowerDirsTopFirst.Count > 0 ? lowerDirsTopFirst : [EmptyLower(containerDir)];
        SnapshotStore.Mount(new OverlayMount(lowers, upper, work), target);
        return target;
    }

    static string EmptyLower(string containerDir)
    {
        string dir = Path.Combine(containerDir, "rw", "empty");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Unmounts the rootfs when it is mounted (lazily when busy: the container's last process may still hold it).</summary>
    public static void Unmount(string containerDir)
    {
        string target = RootfsPath(containerDir);
        if (!IsMounted(target)) return;
        if (Libc.umount2(target, 0) == 0) return;
        var error = LinuxException.FromLastError("umount", target);
        if (error.Errno != Errno.EBUSY) throw error;
        if (Libc.umount2(target, Libc.MNT_DETACH) < 0) throw LinuxException.FromLastError("umount (detach)", target);
    }

    /// <summary>Whether something is mounted at the path: its device differs from its parent's.</summary>
    public static bool IsMounted(string path)
    {
        if (Libc.fstatat(Libc.AT_FDCWD, path, out var self, Libc.AT_SYMLINK_NOFOLLOW) < 0) return false;
        if (Libc.fstatat(Libc.AT_FDCWD, Path.GetDirectoryName(path)!, out var parent, Libc.AT_SYMLINK_NOFOLLOW) < 0) return false;
        return self.Dev != parent.Dev || self.Ino == parent.Ino;
    }
}
