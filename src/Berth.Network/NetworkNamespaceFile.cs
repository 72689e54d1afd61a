using System.Runtime.ExceptionServices;
using Berth.Linux;

namespace Berth.Network;

/// <summary>
/// Network namespaces kept alive by a bind mount of their nsfs file on a path (as `ip netns add` does), and work done
/// inside one. Each namespace change happens on a dedicated thread of its own that ends afterwards, so no other thread
/// of the process (the thread pool's least of all) ever leaves the namespace it started in.
/// </summary>
public static class NetworkNamespaceFile
{
    /// <summary>How long <see cref="Create"/> and <see cref="RunIn"/> wait for their thread.</summary>
    public static readonly TimeSpan ThreadTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Makes a new network namespace, bound on <paramref name="path"/> (a new file; its directory must exist), with its
    /// loopback up. EEXIST when the path exists. On failure nothing is left behind.
    /// </summary>
    public static void Create(string path)
    {
        Sys.Open(path, Libc.O_RDONLY | Libc.O_CREAT | Libc.O_EXCL, 0b100_100_100).Dispose(); // mode 0444, as ip netns add
        bool mounted = false;
        try
        {
            OnOwnThread($"creating the network namespace {path}", () =>
            {
                // Only this thread moves: unshare(CLONE_NEWNET) changes the calling task, not the process.
                if (Libc.unshare(Libc.CLONE_NEWNET) < 0) throw LinuxException.FromLastError("unshare CLONE_NEWNET", path);
                var self = $"/proc/self/task/{Libc.gettid()}/ns/net";
                if (Libc.mount(self, path, null, Libc.MS_BIND, null) < 0) throw LinuxException.FromLastError($"mount --bind {self}", path);
                mounted = true;
                using var rtnetlink = RtNetlink.Open();
                rtnetlink.SetUp("lo");
                return 0;
            });
        }
        catch
        {
            if (mounted) Libc.umount2(path, Libc.MNT_DETACH);
            Libc.unlinkat(Libc.AT_FDCWD, path, 0);
            throw;
        }
    }

    /// <summary>
    /// Unmounts (lazily, MNT_DETACH) and deletes a file <see cref="Create"/> made; the namespace ends with its last user,
    /// and its links with it (a veth's peer in another namespace too). A missing or unmounted file is not an error.
    /// </summary>
    public static void Remove(string path)
    {
        if (Libc.umount2(path, Libc.MNT_DETACH) < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            // EINVAL: not a mount point (a Create that failed half-way, or a second Remove).
            if (errno is not (Errno.ENOENT or Errno.EINVAL)) throw new LinuxException("umount2 MNT_DETACH", errno, path);
        }
        if (Libc.unlinkat(Libc.AT_FDCWD, path, 0) < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Errno.ENOENT) throw new LinuxException("unlink", errno, path);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a dedicated thread that joined the network namespace bound on
    /// <paramref name="path"/>, and returns its result or rethrows its exception; the thread ends afterwards, it never
    /// serves anything else. Sockets made inside <paramref name="work"/> (<see cref="RtNetlink.Open"/>, a .NET
    /// <see cref="System.Net.Sockets.Socket"/>) belong to that namespace for their whole life, whichever thread uses
    /// them later: callers open them here and keep them. Waits at most <see cref="ThreadTimeout"/>.
    /// </summary>
    public static T RunIn<T>(string path, Func<T> work)
    {
        using var netns = Sys.Open(path, Libc.O_RDONLY);
        // setns would say EINVAL for any file that is not a network namespace's: say what was wrong instead.
        var type = Libc.ioctl(netns.Value, Libc.NS_GET_NSTYPE, 0);
        if (type != Libc.CLONE_NEWNET)
            throw new LinuxException("setns CLONE_NEWNET", Errno.EINVAL, $"{path} (not a network namespace file)");
        return OnOwnThread($"work in the network namespace {path}", () =>
        {
            if (Libc.setns(netns.Value, Libc.CLONE_NEWNET) < 0) throw LinuxException.FromLastError("setns CLONE_NEWNET", path);
            return work();
        });
    }

    /// <summary>Runs <paramref name="body"/> on a new thread and waits for it, rethrowing what it threw.</summary>
    static T OnOwnThread<T>(string what, Func<T> body)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception e) { failure = ExceptionDispatchInfo.Capture(e); }
        })
        { IsBackground = true, Name = "netns" };
        thread.Start();
        if (!thread.Join(ThreadTimeout))
            throw new TimeoutException($"{what} did not finish within {ThreadTimeout.TotalSeconds:0} s.");
        failure?.Throw();
        return result;
    }
}
