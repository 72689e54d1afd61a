using System.Runtime.InteropServices;
using Berth.Linux;

namespace Berth.Runtime;

/// <summary>
/// The binary that enters a container (CVE-2019-5736). `berth-runtime init` runs inside the container's namespaces
/// before it execs the user's process; a process of the container that can see it (a shared PID namespace, a
/// startContainer hook, `exec`) may open /proc/PID/exe, keep the fd, and reopen it for writing once no runtime
/// process runs the file any more (the kernel's ETXTBSY only protects a file while it is being executed), then
/// overwrite the host's berth-runtime with a payload that the next `create` runs as host root. So init is never
/// executed from the host file itself, but from one of:
/// <list type="bullet">
/// <item><b>overlay</b> (the default): a detached, read-only overlayfs whose only layers are the binary's directory and
/// an empty detached tmpfs, made with fsopen/fsmount and never attached anywhere. An overlay without an upper layer is
/// read-only as a filesystem, whatever the flags of the mount that reaches it, so it stays so even if a privileged
/// container found a way to make that mount writable. Needs kernel 6.8 (layers given one by one with "lowerdir+",
/// the tmpfs as an fd).</item>
/// <item><b>memfd</b> (the fallback, or <c>BERTH_EXESEAL=memfd</c>): a copy of the binary in a memfd sealed against
/// writes, growth, shrinking and further sealing. Works on any kernel since 3.17, but copies the 6.9 MB binary per
/// container (sendfile, page cache to shmem) and holds that memory until init execs.</item>
/// </list>
/// Not chosen: relying on ETXTBSY alone (the attack above defeats it: measured, SecurityAttackTests); a read-only bind
/// mount of the binary (open_tree + mount_setattr, 5 µs): it held here too (a container could neither clear the flag
/// on the dissolved mount nor clone it: EINVAL on 6.18), but its protection is one mount flag, and the kernel's rules
/// for detached mounts keep changing.
/// Cost of the step, measured in-process over 300 iterations (docs/benchmarks.md): overlay 0.27 ms median (0.18 ms
/// p10), memfd copy 1.6 ms (1.2 ms p10) plus 6.9 MB, against ~12 ms for a whole `run` of /bin/true on an idle machine.
/// Whole-run pairs with hyperfine (bench/exeseal.sh) were taken at load average 20-35 and cannot separate them.
/// </summary>
public static class SealedBinary
{
    /// <summary>Chooses the method: unset or "overlay" (falling back to memfd), or "memfd" to force the copy.</summary>
    public const string ModeVariable = "BERTH_EXESEAL";

    const int BaseSeals = Libc.F_SEAL_SEAL | Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_WRITE;

    /// <summary>An fd of the running binary to execveat(AT_EMPTY_PATH), which the container cannot write through.</summary>
    public static Fd OpenSelf()
    {
        string? mode = Environment.GetEnvironmentVariable(ModeVariable);
        switch (mode)
        {
            case null or "" or "overlay":
                return TryOverlay(out var overlayError) ?? CopyToSealedMemfd(overlayError);
            case "memfd":
                return CopyToSealedMemfd(null);
            default:
                throw new ContainerException($"{ModeVariable}={mode}: unknown method to seal the runtime binary (use overlay or memfd)");
        }
    }

    /// <summary>True when <paramref name="fd"/> is a memfd with every write seal (what <see cref="OpenSelf"/> makes).</summary>
    public static bool IsSealedMemfd(Fd fd)
    {
        int seals = Libc.fcntl(fd.Value, Libc.F_GET_SEALS, 0);
        return seals >= 0 && (seals & BaseSeals) == BaseSeals;
    }

    /// <summary>The binary through a lower-only overlay, or null (with the reason) where the kernel cannot make one.</summary>
    static Fd? TryOverlay(out string error)
    {
        string self = InitBinaryPath();
        string dir = Path.GetDirectoryName(self) ?? "/";
        string name = Path.GetFileName(self);
        Fd? context = null, empty = null, mount = null;
        try
        {
            context = FsOpen("overlay");
            // overlayfs without an upper layer needs two lower ones: the binary's directory on top (so nothing in the
            // other can shadow the binary) and an empty tmpfs that nobody else can reach.
            empty = EmptyTmpfs();
            Configure(context, Libc.FSCONFIG_SET_STRING, "lowerdir+", dir, 0);
            Configure(context, Libc.FSCONFIG_SET_FD, "lowerdir+", null, empty.Value);
            // xino only produces kernel log noise for layers on different filesystems; not all kernels know it.
            Libc.fsconfig(context.Value, Libc.FSCONFIG_SET_STRING, "xino", "off", 0);
            Configure(context, Libc.FSCONFIG_CMD_CREATE, null, null, 0);
            mount = FsMount(context, Libc.MOUNT_ATTR_RDONLY | Libc.MOUNT_ATTR_NODEV | Libc.MOUNT_ATTR_NOSUID);
            error = "";
            return Sys.OpenAt(mount, name, Libc.O_PATH | Libc.O_NOFOLLOW);
        }
        catch (LinuxException e)
        {
            error = $"a read-only overlay of {dir}: {e.Message}";
            return null;
        }
        finally
        {
            // The fd of the binary keeps the detached mount alive; nothing else needs it.
            mount?.Dispose();
            empty?.Dispose();
            context?.Dispose();
        }
    }

    static Fd EmptyTmpfs()
    {
        using Fd context = FsOpen("tmpfs");
        Configure(context, Libc.FSCONFIG_SET_STRING, "size", "4k", 0);
        Configure(context, Libc.FSCONFIG_CMD_CREATE, null, null, 0);
        return FsMount(context, Libc.MOUNT_ATTR_RDONLY | Libc.MOUNT_ATTR_NODEV | Libc.MOUNT_ATTR_NOSUID);
    }

    static Fd CopyToSealedMemfd(string? whyNotOverlay)
    {
        try
        {
            using Fd source = Sys.Open("/proc/self/exe", Libc.O_RDONLY);
            long size = Sys.FStat(source).Size;
            // MFD_EXEC says so explicitly where vm.memfd_noexec would otherwise refuse; kernels before 6.3 reject the flag.
            int fd = Libc.memfd_create("berth-runtime", Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING | Libc.MFD_EXEC);
            if (fd < 0 && Marshal.GetLastPInvokeError() == Errno.EINVAL)
                fd = Libc.memfd_create("berth-runtime", Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
            if (fd < 0) throw LinuxException.FromLastError("memfd_create");
            var copy = new Fd(fd);
            try
            {
                for (long done = 0; done < size;)
                {
                    long n = Libc.sendfile(copy.Value, source.Value, size - done);
                    if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR) continue;
                    if (n < 0) throw LinuxException.FromLastError("sendfile", "/proc/self/exe");
                    if (n == 0) throw new LinuxException("sendfile", Errno.EIO, $"/proc/self/exe (ended after {done} of {size} bytes)");
                    done += n;
                }
                // F_SEAL_EXEC (6.3) keeps the mode from being changed; older kernels do without.
                Libc.fcntl(copy.Value, Libc.F_ADD_SEALS, Libc.F_SEAL_EXEC);
                if (Libc.fcntl(copy.Value, Libc.F_ADD_SEALS, BaseSeals) < 0) throw LinuxException.FromLastError("fcntl(F_ADD_SEALS)", "memfd");
                return copy;
            }
            catch
            {
                copy.Dispose();
                throw;
            }
        }
        catch (LinuxException e)
        {
            string also = whyNotOverlay is null ? "" : $" (and {whyNotOverlay})";
            throw new ContainerException($"sealing the runtime binary for container init (CVE-2019-5736): a sealed memfd copy: {e.Message}{also}");
        }
    }

    /// <summary>The runtime binary's path on the host, as the kernel names it.</summary>
    static string InitBinaryPath() => Environment.ProcessPath ?? Rootfs.InRoot.ReadLink(Libc.AT_FDCWD, "/proc/self/exe");

    static Fd FsOpen(string fs)
    {
        int fd = Libc.fsopen(fs, Libc.FSOPEN_CLOEXEC);
        if (fd < 0) throw LinuxException.FromLastError("fsopen", fs);
        return new Fd(fd);
    }

    static Fd FsMount(Fd context, int attrs)
    {
        int fd = Libc.fsmount(context.Value, Libc.FSMOUNT_CLOEXEC, attrs);
        if (fd < 0) throw LinuxException.FromLastError("fsmount");
        return new Fd(fd);
    }

    static void Configure(Fd context, int cmd, string? key, string? value, int aux)
    {
        if (Libc.fsconfig(context.Value, cmd, key, value, aux) < 0)
            throw LinuxException.FromLastError("fsconfig", key is null ? "create" : $"{key}={value ?? $"fd {aux}"}");
    }
}
