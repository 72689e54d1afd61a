using System.Runtime.InteropServices;
using Berth.Linux;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Init;

/// <summary>
/// A procfs instance nobody else can reach, for init's writes to /proc (sysctls, oom_score_adj). The container's
/// /proc is a path in a tree the container can influence: a spec mount, a volume shared with a running container,
/// or a hook may put a bind mount of another procfs file over /proc/sys/net/ipv4/ip_forward, and then a write
/// "to a sysctl" lands in /proc/sys/kernel/core_pattern; checking that the file is on procfs does not see it,
/// because it is (CVE-2025-52881, CVE-2019-16884). So: a fresh detached procfs (fsopen/fsmount, never attached),
/// or where that is not permitted (a user namespace) a detached clone of the container's /proc mount without its
/// submounts (open_tree), checked to be procfs; every file opened beneath it with openat2 refusing symlinks,
/// magic links and mount crossings.
/// </summary>
internal sealed class PrivateProcfs : IDisposable
{
    const ulong StrictResolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

    readonly Fd _root;

    PrivateProcfs(Fd root) => _root = root;

    /// <summary>Opens a private procfs of init's PID namespace; "what" names the caller's purpose in errors.</summary>
    public static PrivateProcfs Open(string what)
    {
        int fd = FreshInstance();
        if (fd < 0) fd = open_tree(AT_FDCWD, "/proc", OPEN_TREE_CLONE | (uint)O_CLOEXEC);
        if (fd < 0)
            throw new ContainerException($"{what}: no private procfs (fsopen(\"proc\") and open_tree(/proc) both failed: " +
                $"{LinuxException.Describe(Marshal.GetLastPInvokeError())}); is /proc mounted in the container?");
        var root = new Fd(fd);
        if (Sys.FsType(root) != Sys.PROC_SUPER_MAGIC)
        {
            root.Dispose();
            throw new ContainerException($"{what}: /proc in the container is not procfs; refusing to write there");
        }
        return new PrivateProcfs(root);
    }

    /// <summary>Opens <paramref name="relative"/> (e.g. "sys/net/ipv4/ip_forward") for writing, staying on this procfs.</summary>
    public Fd OpenForWrite(string relative)
    {
        var how = new OpenHow { Flags = (ulong)(O_WRONLY | O_CLOEXEC | O_TRUNC), Resolve = StrictResolve };
        for (int attempt = 0; ; attempt++)
        {
            int fd = openat2(_root.Value, relative, how);
            if (fd >= 0) return new Fd(fd);
            int errno = Marshal.GetLastPInvokeError();
            if (errno is not (Errno.EAGAIN or Errno.EINTR) || attempt >= 16) throw new LinuxException("openat2", errno, "/proc/" + relative);
        }
    }

    /// <summary>Writes <paramref name="value"/> to the file, as one write (procfs takes a value per write).</summary>
    public void Write(string relative, string value)
    {
        using Fd fd = OpenForWrite(relative);
        Sys.WriteAll(fd, System.Text.Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Our own process directory in this instance: the pid as our PID namespace numbers it ("self" is a symlink).</summary>
    public static string Self => Environment.ProcessId.ToString();

    public void Dispose() => _root.Dispose();

    static int FreshInstance()
    {
        int context = fsopen("proc", FSOPEN_CLOEXEC);
        if (context < 0) return -1;
        using var ctx = new Fd(context);
        if (fsconfig(context, FSCONFIG_CMD_CREATE, null, null, 0) < 0) return -1;
        return fsmount(context, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    }
}
