using Berth.Engine;
using Berth.Linux;
using Microsoft.Win32.SafeHandles;

namespace Berth.Daemon.Containers;

/// <summary>
/// The rootfs's /etc/passwd and /etc/group, opened with openat2 RESOLVE_IN_ROOT so a symlink in the image
/// cannot make the daemon read a host file.
/// </summary>
public sealed class RootfsUsers(string rootfs) : IUserDatabase
{
    public string? ReadPasswd() => Read("/etc/passwd");
    public string? ReadGroup() => Read("/etc/group");

    string? Read(string path)
    {
        int root = Libc.open(rootfs, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (root < 0) throw LinuxException.FromLastError("open", rootfs);
        try
        {
            var how = new Libc.OpenHow { Flags = (ulong)(Libc.O_RDONLY | Libc.O_CLOEXEC), Resolve = Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS };
            int fd = Libc.openat2(root, path, how);
            if (fd < 0)
            {
                var e = LinuxException.FromLastError("openat2", rootfs + path);
                if (e.Errno is Errno.ENOENT or Errno.ENOTDIR) return null;
                throw e;
            }
            using var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        finally
        {
            Libc.close(root);
        }
    }
}

/// <summary>The host's device nodes, by stat(2), for --device and --privileged.</summary>
public sealed class HostDevices : IHostDevices
{
    static readonly string[] Skipped = ["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console"];

    public IReadOnlyList<HostDevice> At(string hostPath)
    {
        if (Libc.fstatat(Libc.AT_FDCWD, hostPath, out var st, 0) < 0) return [];
        if (st.FileType == Libc.S_IFDIR) return Walk(hostPath);
        return Device(hostPath, st) is { } d ? [d] : [];
    }

    public IReadOnlyList<HostDevice> All() => Walk("/dev");

    static List<HostDevice> Walk(string dir)
    {
        var found = new List<HostDevice>();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(dir).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return found;
        }
        foreach (var path in entries)
        {
            if (Skipped.Contains(path) || Libc.fstatat(Libc.AT_FDCWD, path, out var st, Libc.AT_SYMLINK_NOFOLLOW) < 0) continue;
            if (st.FileType == Libc.S_IFDIR) found.AddRange(Walk(path));
            else if (Device(path, st) is { } d) found.Add(d);
        }
        return found;
    }

    static HostDevice? Device(string path, Libc.Stat st) => st.FileType switch
    {
        Libc.S_IFCHR => new HostDevice(path, 'c', Libc.major(st.Rdev), Libc.minor(st.Rdev), st.Mode & 0xfff, st.Uid, st.Gid),
        Libc.S_IFBLK => new HostDevice(path, 'b', Libc.major(st.Rdev), Libc.minor(st.Rdev), st.Mode & 0xfff, st.Uid, st.Gid),
        _ => null,
    };
}

/// <summary>Other containers for container:&lt;x&gt; modes, from the store.</summary>
public sealed class StoreResolver(ContainerStore store) : IContainerResolver
{
    public JoinedContainer? Find(string reference)
    {
        var record = store.Find(reference);
        if (record is null) return null;
        string dir = store.DirOf(record.Id);
        return new JoinedContainer
        {
            Id = record.Id,
            Pid = record.State.Status == "running" ? record.State.Pid : 0,
            Hostname = record.Config.Hostname.Length > 0 ? record.Config.Hostname : record.Id[..12],
            Domainname = record.Config.Domainname,
            IpcMode = record.HostConfig.IpcMode,
            ShmPath = Populate.ShmPath(dir),
            ResolvConfPath = Path.Combine(dir, "resolv.conf"),
            HostnamePath = Path.Combine(dir, "hostname"),
            HostsPath = Path.Combine(dir, "hosts"),
        };
    }
}
