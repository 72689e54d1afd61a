using System.Runtime.InteropServices;
using Berth.Linux;
using Berth.Runtime.Configs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Rootfs;

/// <summary>
/// Builds the container's root filesystem inside its mount namespace, in three steps the init process calls
/// in order: <see cref="Prepare"/> (still seeing the host's tree), <see cref="EnterRoot"/>, and <see cref="Finish"/>
/// (after hostname and sysctls). Every mount target inside the rootfs is resolved with <see cref="InRoot"/> and
/// mounted through its fd, so a symlink in the image can never redirect a mount to the host. Without a mount
/// namespace (the host's mount table) nothing is mounted: the process is only chrooted into the rootfs, and
/// <see cref="Configs.HostMountNamespace"/> has refused every config that asks for more.
/// </summary>
public sealed class RootfsBuilder(ContainerConfig config, RootfsOptions options) : IDisposable
{
    const ulong PropagationFlags = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE;
    const long ProcSuperMagic = 0x9fa0, SysfsMagic = 0x62656572;

    // Bind targets inside /proc that are allowed (lxcfs and friends); anything else there could shadow procfs files.
    static readonly string[] ProcMountTargets =
    [
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
        "/proc/loadavg", "/proc/slabinfo", "/proc/pressure/cpu", "/proc/pressure/io", "/proc/pressure/memory",
        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
    ];

    static readonly DeviceConfig[] DefaultDevices =
    [
        new("/dev/null", 'c', 1, 3, 0x1B6, 0, 0),
        new("/dev/zero", 'c', 1, 5, 0x1B6, 0, 0),
        new("/dev/full", 'c', 1, 7, 0x1B6, 0, 0),
        new("/dev/random", 'c', 1, 8, 0x1B6, 0, 0),
        new("/dev/urandom", 'c', 1, 9, 0x1B6, 0, 0),
        new("/dev/tty", 'c', 5, 0, 0x1B6, 0, 0),
    ];

    readonly bool inUserNamespace = config.Has(NamespaceKind.User);
    readonly bool ownMountNamespace = config.Has(NamespaceKind.Mount);
    // Per spec mount, the detached tree of its bind source that the runtime opened (null: bind by path).
    readonly Fd?[] bindSources = (options.BindSourceFds ?? []).Select(fd => fd >= 0 ? new Fd(fd) : null).ToArray();
    Fd? root;               // O_PATH fd of the rootfs after its self-bind
    string rootPath = "";   // the rootfs as the kernel names it (symlinks in config.Rootfs resolved)
    ulong rootPropagation;  // what "/" was set to before the spec mounts (MS_REC included)
    bool remountDevReadonly;

    /// <summary>
    /// Propagation, the rootfs self-bind, every spec mount, and /dev. Runs before the root is entered, and leaves the
    /// rootfs as the working directory, where runc runs the createContainer hooks that come next.
    /// </summary>
    public void Prepare()
    {
        // Modes given for directories and device nodes are meant exactly.
        uint oldMask = umask(0);
        try
        {
            using (Fd given = OpenHostDir(config.Rootfs, "open rootfs"))
                rootPath = InRoot.PathOf(given);
            if (ownMountNamespace)
                PrepareMounts();
            else
                root = OpenHostDir(rootPath, "open rootfs");
            if (fchdir(Root.Value) != 0) throw LinuxException.FromLastError("fchdir", rootPath);
        }
        finally
        {
            umask(oldMask);
        }
    }

    void PrepareMounts()
    {
        ulong propagation = config.RootfsPropagation & PropagationFlags;
        rootPropagation = (propagation != 0 ? propagation : MS_SLAVE) | MS_REC;
        Mount(null, "/", null, rootPropagation, null, "set propagation of", "/ (before entering the rootfs)");
        MakeParentMountPrivate(rootPath);
        Mount(rootPath, rootPath, "bind", MS_BIND | MS_REC, null, "bind-mount rootfs", $"{rootPath} on itself");
        root = OpenHostDir(rootPath, "open rootfs");

        for (int i = 0; i < config.Mounts.Count; i++)
        {
            try
            {
                MountOne(config.Mounts[i], i < bindSources.Length ? bindSources[i] : null);
            }
            catch (RootfsException e)
            {
                // Which entry of config.json failed: its destination may say little (" ", or one of two alike).
                throw new RootfsException($"mounts[{i}]: {e.Message}");
            }
        }

        SetupDev();
        if (remountDevReadonly)
        {
            using Fd dev = Reopen("/dev", "/dev");
            RemountBind(dev, MS_RDONLY, 0, "remount read-only", "/dev", keepCurrent: true);
        }
    }

    /// <summary>Makes the rootfs "/" (pivot_root, or MS_MOVE + chroot with NoPivot) and changes to it.</summary>
    public void EnterRoot()
    {
        Fd newRoot = root ?? throw new InvalidOperationException("Prepare must run before EnterRoot");
        if (fchdir(newRoot.Value) != 0) throw LinuxException.FromLastError("fchdir", rootPath);
        DebugLog.Write($"enter rootfs {rootPath} with {(options.NoPivot ? "MS_MOVE and chroot" : "pivot_root")}");
        if (!ownMountNamespace)
        {
            // The host's mount table: neither pivot_root nor MS_MOVE, which would change it for every process.
            if (chroot(".") != 0) throw LinuxException.FromLastError("chroot", rootPath);
            if (chdir("/") != 0) throw LinuxException.FromLastError("chdir", "/");
            return;
        }
        if (options.NoPivot)
        {
            HideHostProcAndSys();
            Mount(rootPath, "/", null, MS_MOVE, null, "move rootfs", $"{rootPath} onto /");
            if (chroot(".") != 0) throw LinuxException.FromLastError("chroot", rootPath);
        }
        else
        {
            using Fd oldRoot = OpenHostDir("/", "open old root");
            // pivot_root(".", ".") stacks the old root on top of the new one; it is then unmounted from under us.
            if (pivot_root(".", ".") != 0) throw new RootfsException("pivot_root", rootPath, Marshal.GetLastPInvokeError());
            if (fchdir(oldRoot.Value) != 0) throw LinuxException.FromLastError("fchdir", "old root");
            // Slave first so that the unmount cannot propagate to the host's mounts.
            Mount(null, ".", null, MS_SLAVE | MS_REC, null, "set propagation of", "old root");
            if (umount2(".", MNT_DETACH) != 0) throw new RootfsException("umount2", "old root", Marshal.GetLastPInvokeError());
        }
        if (chdir("/") != 0) throw LinuxException.FromLastError("chdir", "/");
        // Applied again once the rootfs is "/": in Prepare the flag went to the host tree's copy.
        if (config.RootfsPropagation != 0)
            Mount(null, "/", null, config.RootfsPropagation, null, "set rootfs propagation of", "/");
    }

    /// <summary>
    /// Without pivot_root the host's mounts stay in the namespace, only out of the chroot's reach. The host's proc and
    /// sysfs would give a process that escapes the chroot the host's view: unmount them, or cover them with an empty
    /// tmpfs where a user namespace may not unmount them.
    /// </summary>
    void HideHostProcAndSys()
    {
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(line => line.Split(' '))
            .Where(f => f.Length > 7)
            .Select(f => (Point: UnescapeMountinfo(f[4]), Type: f.SkipWhile(x => x != "-").Skip(1).FirstOrDefault()))
            .Where(m => m.Type is "proc" or "sysfs" && m.Point != rootPath && !m.Point.StartsWith(rootPath + "/", StringComparison.Ordinal))
            .Select(m => m.Point).Distinct().OrderByDescending(p => p.Length).ToList();
        foreach (string point in mounts)
        {
            // Slave first so that the unmount cannot propagate to the host.
            Mount(null, point, null, MS_SLAVE | MS_REC, null, "set propagation of", $"{point} (host {point} before chroot)");
            if (umount2(point, MNT_DETACH) == 0) continue;
            int errno = Marshal.GetLastPInvokeError();
            if (errno is not (Errno.EINVAL or Errno.EPERM)) throw new RootfsException("umount2", $"host {point}", errno);
            Mount("tmpfs", point, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null, "cover", $"host {point} with a tmpfs");
        }
    }

    /// <summary>readonlyPaths, maskedPaths, then a read-only root. Runs inside the root, /proc mounted.</summary>
    public void Finish()
    {
        using Fd slash = OpenHostDir("/", "open /");
        if (config.ReadonlyPaths.Count + config.MaskedPaths.Count > 0 && !Directory.Exists("/proc/self/fd"))
            throw new RootfsException("readonlyPaths and maskedPaths are mounted through /proc/self/fd, " +
                "but /proc is not mounted in the container");

        foreach (string path in config.ReadonlyPaths)
        {
            using Fd? target = Resolve(slash, path, "readonly path");
            if (target is null) continue;
            string at = InRoot.FdPath(target);
            Mount(at, at, null, MS_BIND | MS_REC, null, "bind-mount readonly path", $"{path} on itself");
            using Fd mounted = Resolve(slash, path, "readonly path")!;
            RemountBind(mounted, MS_RDONLY, 0, "remount read-only", $"readonly path {path}", keepCurrent: true);
        }

        Fd? devNull = null;
        try
        {
            foreach (string path in config.MaskedPaths)
            {
                using Fd? target = Resolve(slash, path, "masked path");
                if (target is null) continue;
                if (StatFd(target, path).FileType == S_IFDIR)
                {
                    Mount("tmpfs", InRoot.FdPath(target), "tmpfs", MS_RDONLY, null, "mask", $"{path} with a read-only tmpfs");
                    continue;
                }
                devNull ??= VerifiedDevNull(slash);
                Mount(InRoot.FdPath(devNull), InRoot.FdPath(target), null, MS_BIND, null, "mask", $"{path} with /dev/null");
            }
        }
        finally
        {
            devNull?.Dispose();
        }

        if (config.ReadonlyRootfs)
            RemountBind(slash, MS_RDONLY, 0, "remount read-only", "/ (root.readonly)", keepCurrent: true);
        Dispose();
    }

    public void Dispose()
    {
        root?.Dispose();
        foreach (Fd? tree in bindSources) tree?.Dispose();
    }

    // ---- spec mounts ----

    void MountOne(MountConfig m, Fd? bindSource)
    {
        string dest = InRoot.Clean(m.Destination);
        string subject = $"{m.Source} on {dest} (type {m.Type})";
        DebugLog.Write($"mount {subject}, flags 0x{m.Flags:x}{(m.Data.Length > 0 ? ", data " + m.Data : "")}");
        try
        {
            if (m.IsBind || m.Type is "bind" or "rbind")
                MountBind(m, dest, subject, bindSource);
            else if (m.Type == "cgroup")
                MountCgroup(m, dest, subject);
            else if (m.Type == "sysfs")
                MountSysfs(m, dest, subject);
            else
                MountFresh(m, dest, subject, throwOnError: true);
        }
        catch (LinuxException e)
        {
            throw new RootfsException($"mount {subject}", e);
        }
    }

    /// <summary>A new filesystem instance (proc, tmpfs, devpts, mqueue, ...). Returns the mount's errno.</summary>
    int MountFresh(MountConfig m, string dest, string subject, bool throwOnError)
    {
        string data = m.Data;
        Fd? covered = null; // tmpcopyup: the directory the tmpfs covers, opened before it is covered
        try
        {
            bool existed = false;
            if (m.Type == "tmpfs")
                using (Fd? before = InRoot.OpenIfExists(Root, dest, O_PATH)) existed = before is not null;
            using Fd target = InRoot.MkdirAll(Root, dest, 0x1ED);
            CheckTarget(m, dest, target, subject, source: null);
            if (m.Type == "tmpfs" && existed)
            {
                data = TmpfsData(StatFd(target, dest).Mode, data);
                if (m.CopyUp) covered = Sys.OpenAt(target, ".", O_RDONLY | O_DIRECTORY);
            }
            ulong flags = m.Flags & ~(PropagationFlags | MS_REC);
            if (dest == "/dev" && (flags & MS_RDONLY) != 0)
            {
                // Devices and symlinks are created in /dev after the mounts; it becomes read-only at the end.
                flags &= ~MS_RDONLY;
                remountDevReadonly = true;
            }
            int errno = TryMount(m.Source, InRoot.FdPath(target), m.Type, flags, data.Length > 0 ? data : null);
            if (errno != 0)
            {
                if (throwOnError) throw new RootfsException("mount", subject, errno);
                return errno;
            }
            using Fd mounted = Reopen(dest, subject);
            if (covered is not null)
            {
                // A read-only tmpfs is filled too: MS_RDONLY and the like are applied by the remount below.
                using Fd into = Sys.OpenAt(mounted, ".", O_RDONLY | O_DIRECTORY);
                DirectoryCopy.Contents(covered, into, dest);
            }
            FinishMount(m, mounted, subject);
            return 0;
        }
        finally
        {
            covered?.Dispose();
        }
    }

    /// <summary>
    /// A tmpfs over an existing directory keeps its mode (as runc: "mode=" of the directory first, so that a mode the
    /// options give wins).
    /// </summary>
    internal static string TmpfsData(uint directoryMode, string data)
    {
        string mode = "mode=" + Convert.ToString(directoryMode & 0xFFF, 8).PadLeft(4, '0');
        return data.Length == 0 ? mode : mode + "," + data;
    }

    /// <param name="tree">The source's mount tree, detached, as the runtime opened it (see BindSources); null: bind by path.</param>
    void MountBind(MountConfig m, string dest, string subject, Fd? tree = null)
    {
        Stat source;
        if (tree is not null) source = StatFd(tree, m.Source);
        else if (fstatat(AT_FDCWD, m.Source, out source, 0) != 0)
            throw new RootfsException("stat bind source of", subject, Marshal.GetLastPInvokeError());
        using Fd target = source.FileType == S_IFDIR
            ? InRoot.MkdirAll(Root, dest, 0x1ED)
            : InRoot.CreateFile(Root, dest, 0x1A4);
        CheckTarget(m, dest, target, subject, tree);
        if (tree is not null)
        {
            if (move_mount(tree.Value, target.Value) != 0) throw new RootfsException("move_mount", subject, Marshal.GetLastPInvokeError());
            // A copy of a shared host mount can be a peer of it (6.18 makes it a slave as it moves in; older kernels
            // need not): give it the propagation "/" got before any mount, or what is mounted inside it later would
            // propagate back to the host.
            using Fd moved = Reopen(dest, subject);
            Mount(null, InRoot.FdPath(moved), null, rootPropagation, null, "set propagation of", subject);
        }
        else
        {
            Mount(m.Source, InRoot.FdPath(target), null, MS_BIND | (m.Flags & MS_REC), null, "mount", subject);
        }
        using Fd mounted = Reopen(dest, subject);
        ulong extra = m.Flags & ~(MS_BIND | MS_REC | MS_REMOUNT | PropagationFlags);
        if (extra != 0)
            RemountBind(mounted, extra, m.ClearFlags, "remount", subject);
        FinishMount(m, mounted, subject);
    }

    void MountSysfs(MountConfig m, string dest, string subject)
    {
        int errno = MountFresh(m, dest, subject, throwOnError: false);
        if (errno == 0) return;
        // A user namespace that does not own the network namespace may not mount sysfs: show the host's /sys instead.
        if (inUserNamespace && errno is Errno.EPERM or Errno.EBUSY)
        {
            var bind = m with { Source = "/sys", Type = "bind", Flags = m.Flags | MS_BIND | MS_REC };
            MountBind(bind, dest, $"/sys on {dest} (type bind, sysfs not permitted)");
            return;
        }
        throw new RootfsException("mount", subject, errno);
    }

    void MountCgroup(MountConfig m, string dest, string subject)
    {
        if (options.Cgroups.Count == 0)
            throw new RootfsException($"mount {subject}: no cgroup hierarchy was given to mount");
        ulong readOnly = m.Flags & MS_RDONLY;
        ulong flags = m.Flags & ~(MS_RDONLY | MS_BIND | MS_REC | MS_REMOUNT | PropagationFlags);

        if (options.Cgroups is [{ Name: "" } unified])
        {
            // Pure cgroup v2: the hierarchy itself at the destination.
            MountCgroupHierarchy(unified, dest, flags | readOnly);
            using Fd mounted = Reopen(dest, subject);
            FinishMount(m, mounted, subject);
            return;
        }

        // v1 or hybrid: a tmpfs holding one directory per hierarchy, read-only once they are all in place.
        using (Fd target = InRoot.MkdirAll(Root, dest, 0x1ED))
        {
            CheckTarget(m, dest, target, subject, source: null);
            Mount("tmpfs", InRoot.FdPath(target), "tmpfs", flags, "mode=755", "mount", $"tmpfs on {dest} (type tmpfs, for cgroups)");
        }
        using Fd tmpfs = Reopen(dest, subject);
        foreach (CgroupMountSource cgroup in options.Cgroups)
        {
            string at = dest == "/" ? "/" + cgroup.Name : dest + "/" + cgroup.Name;
            MountCgroupHierarchy(cgroup, at, flags | readOnly);
            // Co-mounted controllers ("cpu,cpuacct") are also reachable by each controller's name.
            foreach (string alias in cgroup.Name.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (alias == cgroup.Name) continue;
                if (symlinkat(cgroup.Name, tmpfs.Value, alias) != 0 && Marshal.GetLastPInvokeError() != Errno.EEXIST)
                    throw new RootfsException("symlink", $"{dest}/{alias} -> {cgroup.Name}", Marshal.GetLastPInvokeError());
            }
        }
        if (readOnly != 0)
            RemountBind(tmpfs, flags | MS_RDONLY, 0, "remount read-only", $"tmpfs on {dest} (type tmpfs, for cgroups)");
        FinishMount(m, tmpfs, subject);
    }

    void MountCgroupHierarchy(CgroupMountSource cgroup, string at, ulong flags)
    {
        using Fd target = InRoot.MkdirAll(Root, at, 0x1ED);
        if (options.CgroupNamespace)
        {
            string type = cgroup.IsV2 ? "cgroup2" : "cgroup";
            string? data = cgroup.IsV2 || cgroup.MountOptions.Length == 0 ? null : cgroup.MountOptions;
            int errno = TryMount(type, InRoot.FdPath(target), type, flags, data);
            if (errno == 0) return;
            // Not permitted (a user namespace without the right to mount it): fall back to the bind below.
            if (errno != Errno.EPERM)
                throw new RootfsException("mount", $"{type} on {at} (type {type}, options {data ?? ""})", errno);
        }
        string subject = $"{cgroup.HostPath} on {at} (type bind, cgroup)";
        Mount(cgroup.HostPath, InRoot.FdPath(target), null, MS_BIND | MS_REC, null, "mount", subject);
        if (flags != 0)
        {
            using Fd mounted = Reopen(at, subject);
            RemountBind(mounted, flags, 0, "remount", subject);
        }
    }

    // ---- /dev ----

    void SetupDev()
    {
        var listed = config.Devices.Select(d => InRoot.Clean(d.Path)).ToHashSet(StringComparer.Ordinal);
        foreach (DeviceConfig device in DefaultDevices.Where(d => !listed.Contains(d.Path)).Concat(config.Devices))
            CreateDevice(device);

        using Fd dev = InRoot.MkdirAll(Root, "/dev", 0x1ED);
        Symlink(dev, "/proc/self/fd", "fd");
        Symlink(dev, "/proc/self/fd/0", "stdin");
        Symlink(dev, "/proc/self/fd/1", "stdout");
        Symlink(dev, "/proc/self/fd/2", "stderr");
        if (File.Exists("/proc/kcore"))
            Symlink(dev, "/proc/kcore", "core");
        if (config.Mounts.Any(m => InRoot.Clean(m.Destination) == "/dev/pts"))
        {
            // The devpts instance's own ptmx, not a node that would open the host's.
            if (unlinkat(dev.Value, "ptmx", 0) != 0 && Marshal.GetLastPInvokeError() != Errno.ENOENT)
                throw new RootfsException("unlink", "/dev/ptmx", Marshal.GetLastPInvokeError());
            Symlink(dev, "pts/ptmx", "ptmx");
        }
        // The console's mount point, made now while /dev may still be written; init binds the pty on it later.
        if (config.Process.Terminal)
            Terminal.ConsoleTarget.Open(Root).Dispose();
    }

    void CreateDevice(DeviceConfig device)
    {
        string path = InRoot.Clean(device.Path);
        string subject = $"device {path} ({device.Type} {device.Major}:{device.Minor})";
        int slash = path.LastIndexOf('/');
        string name = path[(slash + 1)..];
        if (name.Length == 0) throw new RootfsException($"create {subject}: not a file path");
        uint type = device.Type switch
        {
            'c' or 'u' => S_IFCHR,
            'b' => S_IFBLK,
            'p' => S_IFIFO,
            _ => throw new RootfsException($"create {subject}: unknown device type '{device.Type}'"),
        };
        try
        {
            using Fd dir = InRoot.MkdirAll(Root, slash == 0 ? "/" : path[..slash], 0x1ED);
            ulong dev = type == S_IFIFO ? 0 : makedev((uint)device.Major, (uint)device.Minor);
            // What the image left there (a symlink to a file, a regular file) must not become the node or the
            // target of the host node's bind: keep it only when it already is this device.
            if (fstatat(dir.Value, name, out Stat existing, AT_SYMLINK_NOFOLLOW) == 0)
            {
                if (existing.FileType == type && (type == S_IFIFO || existing.Rdev == dev)) return;
                if (unlinkat(dir.Value, name, 0) != 0)
                    throw new RootfsException("remove what is at", $"{path} (to create {subject})", Marshal.GetLastPInvokeError());
            }
            if (mknodat(dir.Value, name, type | (device.FileMode & 0xFFF), dev) == 0)
            {
                if (fchownat(dir.Value, name, device.Uid, device.Gid, AT_SYMLINK_NOFOLLOW) != 0)
                    throw new RootfsException("chown", subject, Marshal.GetLastPInvokeError());
                return;
            }
            int errno = Marshal.GetLastPInvokeError();
            // In a user namespace mknod is refused: bind the host's node onto an empty file instead.
            if (errno != Errno.EPERM) throw new RootfsException("mknod", subject, errno);
            int fd = openat(dir.Value, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0);
            if (fd < 0) throw new RootfsException("create bind target for", subject, Marshal.GetLastPInvokeError());
            using var target = new Fd(fd);
            Mount(device.Path, InRoot.FdPath(target), null, MS_BIND, null, "bind-mount host device", $"{device.Path} on {path}");
        }
        catch (LinuxException e)
        {
            throw new RootfsException($"create {subject}", e);
        }
    }

    static void Symlink(Fd dir, string target, string name)
    {
        if (symlinkat(target, dir.Value, name) != 0 && Marshal.GetLastPInvokeError() != Errno.EEXIST)
            throw new RootfsException("symlink", $"/dev/{name} -> {target}", Marshal.GetLastPInvokeError());
    }

    // ---- helpers ----

    Fd Root => root ?? throw new InvalidOperationException("the rootfs is not open");

    /// <summary>
    /// The mount target must resolve inside the rootfs; proc and sysfs only where they belong, and never through a
    /// symlink, fresh or bound from the host alike (a rootfs whose /proc or /sys is a symlink is refused).
    /// </summary>
    void CheckTarget(MountConfig m, string dest, Fd target, string subject, Fd? source)
    {
        string resolved = PathInRoot(target, subject);
        long sourceType = m.IsBind || m.Type == "bind" ? SourceFsType(m, source) : 0;
        string? special = m.Type is "proc" or "sysfs" ? m.Type
            : sourceType == ProcSuperMagic ? "procfs" : sourceType == SysfsMagic ? "sysfs" : null;
        if (special is not null && resolved != dest)
            throw new RootfsException($"mount {subject}: the destination is a symlink (to {resolved}), refused for {special}");
        if (resolved != "/proc" && !resolved.StartsWith("/proc/", StringComparison.Ordinal)) return;
        if (resolved == "/proc" && special is "proc" or "procfs") return;
        if (ProcMountTargets.Contains(resolved)) return;
        throw new RootfsException($"mount {subject}: {resolved} is inside /proc, where only procfs itself and " +
            $"these files may be mounted: {string.Join(", ", ProcMountTargets)}");
    }

    /// <summary>The filesystem magic of a bind's source (its detached tree's when there is one); 0 when unknown.</summary>
    static long SourceFsType(MountConfig m, Fd? tree)
    {
        StatFs st;
        int r = tree is not null ? fstatfs(tree.Value, out st) : statfs(m.Source, out st);
        return r == 0 ? st.Type : 0;
    }

    /// <summary>Where the fd is, relative to the rootfs; throws when it is not inside it.</summary>
    string PathInRoot(Fd fd, string subject)
    {
        string path = InRoot.PathOf(fd);
        if (rootPath == "/") return path;
        if (path == rootPath) return "/";
        if (path.StartsWith(rootPath + "/", StringComparison.Ordinal)) return path[rootPath.Length..];
        throw new RootfsException($"mount {subject}: the target resolved to {path}, outside the rootfs {rootPath}");
    }

    /// <summary>Resolves the destination again after mounting: the fd now names the new mount, checked inside.</summary>
    Fd Reopen(string dest, string subject)
    {
        Fd fd = InRoot.Open(Root, dest, O_PATH);
        try
        {
            PathInRoot(fd, subject);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Propagation flags, then the recursive attributes ("rro", "rnosuid"...) with mount_setattr(AT_RECURSIVE).</summary>
    void FinishMount(MountConfig m, Fd mounted, string subject)
    {
        foreach (ulong flag in m.Propagation)
            Mount(null, InRoot.FdPath(mounted), null, flag, null, "set propagation of", subject);
        if (m.RecAttrSet != 0 || m.RecAttrClr != 0)
            MountSetattr.Recursive(mounted, m.RecAttrSet, m.RecAttrClr, subject);
    }

    /// <summary>
    /// MS_BIND|MS_REMOUNT with <paramref name="flags"/>. In a user namespace the kernel refuses to drop the flags it
    /// locked on mounts inherited from the host (nosuid, nodev, noexec, ro, atime): on EPERM retry keeping those
    /// read from statfs, except those the spec asked to clear.
    /// </summary>
    static void RemountBind(Fd mounted, ulong flags, ulong clear, string call, string subject, bool keepCurrent = false)
    {
        string target = InRoot.FdPath(mounted);
        if (keepCurrent)
        {
            // Making something read-only must not drop the nosuid/nodev/noexec it already has.
            if (fstatfs(mounted.Value, out StatFs current) != 0) throw LinuxException.FromLastError("fstatfs", subject);
            flags |= LockableFlags(current.Flags, flags);
        }
        ulong wanted = MS_BIND | MS_REMOUNT | flags;
        int errno = TryMount(null, target, null, wanted, null);
        if (errno == Errno.EPERM)
        {
            if (fstatfs(mounted.Value, out StatFs st) != 0) throw LinuxException.FromLastError("fstatfs", subject);
            ulong keep = LockableFlags(st.Flags, flags) & ~clear;
            if ((wanted | keep) != wanted) errno = TryMount(null, target, null, wanted | keep, null);
        }
        if (errno != 0) throw new RootfsException(call, subject, errno);
    }

    internal static ulong LockableFlags(long statfsFlags, ulong requested)
    {
        ulong flags = 0;
        if ((statfsFlags & ST_RDONLY) != 0) flags |= MS_RDONLY;
        if ((statfsFlags & ST_NOSUID) != 0) flags |= MS_NOSUID;
        if ((statfsFlags & ST_NODEV) != 0) flags |= MS_NODEV;
        if ((statfsFlags & ST_NOEXEC) != 0) flags |= MS_NOEXEC;
        if ((requested & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME)) == 0)
        {
            if ((statfsFlags & ST_NOATIME) != 0) flags |= MS_NOATIME;
            else if ((statfsFlags & ST_RELATIME) != 0) flags |= MS_RELATIME;
            else flags |= MS_STRICTATIME;
            if ((statfsFlags & ST_NODIRATIME) != 0) flags |= MS_NODIRATIME;
        }
        return flags;
    }

    /// <summary>
    /// pivot_root refuses a new root whose parent mount is shared, and a shared parent would also carry the rootfs
    /// bind to the host's peers: make that mount private, only then (a slave parent keeps rslave's meaning).
    /// </summary>
    static void MakeParentMountPrivate(string rootfs)
    {
        (string mountPoint, bool shared) = ParentMount(rootfs, File.ReadAllLines("/proc/self/mountinfo"));
        if (shared)
            Mount(null, mountPoint, null, MS_PRIVATE, null, "make private", $"{mountPoint} (parent mount of the rootfs)");
    }

    /// <summary>The mount containing <paramref name="path"/> (the last mounted on the longest prefix) and whether it is shared.</summary>
    internal static (string MountPoint, bool Shared) ParentMount(string path, IEnumerable<string> mountinfo)
    {
        (string MountPoint, bool Shared) best = ("/", false);
        int bestLength = -1;
        foreach (string line in mountinfo)
        {
            // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
            string[] f = line.Split(' ');
            if (f.Length < 7) continue;
            string mountPoint = UnescapeMountinfo(f[4]);
            bool contains = mountPoint == "/" || path == mountPoint || path.StartsWith(mountPoint + "/", StringComparison.Ordinal);
            if (!contains || mountPoint.Length < bestLength) continue;
            bool shared = f.Skip(6).TakeWhile(x => x != "-").Any(x => x.StartsWith("shared:", StringComparison.Ordinal));
            best = (mountPoint, shared);
            bestLength = mountPoint.Length;
        }
        return best;
    }

    // mountinfo writes space, tab, newline and backslash as \ooo octal escapes.
    static string UnescapeMountinfo(string s)
    {
        if (!s.Contains('\\')) return s;
        var b = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                b.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else b.Append(s[i]);
        }
        return b.ToString();
    }

    static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s.Skip(at).Take(3).All(c => c is >= '0' and <= '7');

    static Fd? Resolve(Fd slash, string path, string what)
    {
        try
        {
            return InRoot.OpenIfExists(slash, path, O_PATH);
        }
        catch (LinuxException e)
        {
            throw new RootfsException($"{what} {path}", e);
        }
    }

    static Fd VerifiedDevNull(Fd slash)
    {
        Fd? fd = Resolve(slash, "/dev/null", "mask source")
            ?? throw new RootfsException("mask paths: /dev/null does not exist in the container");
        Stat st = StatFd(fd, "/dev/null");
        if (st.FileType != S_IFCHR || major(st.Rdev) != 1 || minor(st.Rdev) != 3)
        {
            fd.Dispose();
            throw new RootfsException($"mask paths: /dev/null is not the null device (mode {st.Mode:x}, " +
                $"device {major(st.Rdev)}:{minor(st.Rdev)})");
        }
        return fd;
    }

    static Stat StatFd(Fd fd, string path)
    {
        if (fstatat(fd.Value, "", out Stat st, AT_EMPTY_PATH) != 0) throw LinuxException.FromLastError("fstatat", path);
        return st;
    }

    static Fd OpenHostDir(string path, string what)
    {
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) throw new RootfsException(what, path, Marshal.GetLastPInvokeError());
        return new Fd(fd);
    }

    static int TryMount(string? source, string target, string? type, ulong flags, string? data) =>
        mount(source ?? "", target, type, flags, data) == 0 ? 0 : Marshal.GetLastPInvokeError();

    static void Mount(string? source, string target, string? type, ulong flags, string? data, string call, string subject)
    {
        DebugLog.Write($"{call} {subject}");
        int errno = TryMount(source, target, type, flags, data);
        if (errno != 0) throw new RootfsException(call, subject, errno);
    }
}
