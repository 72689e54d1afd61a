using System.Runtime.InteropServices;
using Berth.Linux;
using Berth.Runtime.Configs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Rootfs;

/// <summary>
/// The sources of a container's bind mounts, opened by the runtime as the host's root before the container's
/// namespaces exist: for each, a detached copy of its mount tree (open_tree(OPEN_TREE_CLONE), with AT_RECURSIVE for
/// rbind) that init attaches at the destination with move_mount. With a user namespace init is root only inside it,
/// an unprivileged host uid outside, and may not reach a source under a directory only the host's root may enter;
/// runc 1.1.5 opens such sources as the host's root too, before init joins (nsexec's mount sources). Opened only
/// when it matters and works: with a user namespace (new or joined) and a new mount namespace (a joined one resolves
/// paths in a tree the runtime does not see), by a runtime that is root, on a kernel with open_tree (5.2).
/// Elsewhere init binds the source by path, as before.
/// </summary>
public sealed class BindSources : IDisposable
{
    readonly Fd?[] _trees;

    BindSources(Fd?[] trees) => _trees = trees;

    /// <summary>One entry per spec mount: the inherited fd of its source's tree, or -1 (not a bind, or not opened).</summary>
    public List<int> FdNumbers => _trees.Select(t => t?.Value ?? -1).ToList();

    /// <summary>The open trees, for init to inherit.</summary>
    public IEnumerable<Fd> Fds => _trees.OfType<Fd>();

    public static BindSources Open(ContainerConfig config)
    {
        var trees = new Fd?[config.Mounts.Count];
        if (!Needed(config)) return new BindSources(trees);
        try
        {
            for (int i = 0; i < trees.Length; i++)
            {
                MountConfig m = config.Mounts[i];
                if (!m.IsBind) continue;
                uint flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m.Recursive ? (uint)AT_RECURSIVE : 0);
                int fd = open_tree(AT_FDCWD, m.Source, flags);
                if (fd >= 0)
                {
                    trees[i] = new Fd(fd);
                    continue;
                }
                int errno = Marshal.GetLastPInvokeError();
                // A kernel without the new mount API: init binds by path, as it always did there.
                if (errno == Errno.ENOSYS) break;
                throw new ContainerException($"$.mounts[{i}]: opening the bind source {m.Source} (for {m.Destination}): {LinuxException.Describe(errno)}");
            }
        }
        catch
        {
            foreach (Fd? tree in trees) tree?.Dispose();
            throw;
        }
        return new BindSources(trees);
    }

    static bool Needed(ContainerConfig config) =>
        config.Has(NamespaceKind.User) && config.Get(NamespaceKind.Mount) is { Path: null } && geteuid() == 0;

    public void Dispose()
    {
        foreach (Fd? tree in _trees) tree?.Dispose();
    }
}
