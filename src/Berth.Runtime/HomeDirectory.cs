using Berth.Linux;
using Berth.Runtime.Rootfs;

namespace Berth.Runtime;

/// <summary>
/// HOME for a process whose environment lacks it, as runc sets it (for init and for exec): the home directory of
/// its uid in the container's /etc/passwd, else "/". Programs and shells rely on it; Docker images seldom set it.
/// </summary>
public static class HomeDirectory
{
    /// <summary>
    /// <paramref name="env"/> itself when it has HOME, else with HOME appended. <paramref name="readPasswd"/> gives the
    /// container's /etc/passwd, or null when there is none; it is only called when HOME is missing.
    /// </summary>
    public static IReadOnlyList<string> Ensure(IReadOnlyList<string> env, uint uid, Func<string?> readPasswd)
    {
        foreach (var entry in env)
            if (entry.StartsWith("HOME=", StringComparison.Ordinal)) return env;
        return [.. env, "HOME=" + (FromPasswd(readPasswd(), uid) ?? "/")];
    }

    /// <summary>The home field (the sixth) of the first passwd(5) line whose uid (the third) is <paramref name="uid"/>.</summary>
    public static string? FromPasswd(string? passwd, uint uid)
    {
        if (passwd is null) return null;
        foreach (var line in passwd.Split('\n'))
        {
            var fields = line.TrimEnd('\r').Split(':');
            if (fields.Length < 6 || !uint.TryParse(fields[2], out uint entryUid) || entryUid != uid) continue;
            return fields[5].Length > 0 ? fields[5] : null;
        }
        return null;
    }

    /// <summary>
    /// The container's /etc/passwd, or null when there is none or it is anything but a plain file: the container controls
    /// it, and the runtime reads it with the host's privileges. Resolved through <paramref name="root"/> (a symlink stays
    /// inside it), checked through an O_PATH fd before anything opens it for reading (a FIFO, a socket or a device is never
    /// opened), refused on kernel file systems (/proc/kmsg is a "regular file" whose every read consumes the host's kernel
    /// log, which our CAP_SYSLOG allows) and on FUSE (a read there may never return), reopened and checked to be the same
    /// file, and read without blocking, at most 1 MiB. Any error gives null, so HOME falls back to "/", as runc's.
    /// </summary>
    public static string? ReadPasswd(Fd root)
    {
        try
        {
            using var path = InRoot.OpenIfExists(root, "/etc/passwd", Libc.O_PATH | Libc.O_CLOEXEC);
            if (path is null || !IsPlainFile(path, out var checkedStat)) return null;
            using var fd = InRoot.Open(root, "/etc/passwd", Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC);
            var opened = Sys.FStat(fd);
            if (opened.Dev != checkedStat.Dev || opened.Ino != checkedStat.Ino) return null; // swapped between the two opens
            var buffer = new byte[1 << 20];
            int total = 0, n;
            while (total < buffer.Length && (n = Sys.Read(fd, buffer.AsSpan(total))) > 0) total += n;
            return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
        }
        catch (LinuxException)
        {
            return null;
        }
    }

    static bool IsPlainFile(Fd fd, out Libc.Stat stat)
    {
        stat = Sys.FStat(fd);
        return stat.FileType == Libc.S_IFREG && !KernelOrFuseFileSystems.Contains(Sys.FsType(fd));
    }

    // statfs(2) f_type values: proc, sysfs, debugfs, tracefs, securityfs, cgroup, cgroup2, bpf, configfs, pstore,
    // efivarfs, and FUSE.
    static readonly HashSet<long> KernelOrFuseFileSystems =
    [
        0x9fa0, 0x62656572, 0x64626720, 0x74726163, 0x73636673, 0x27e0eb, 0x63677270, 0xcafe4a11, 0x62656570,
        0x6165676c, 0xde5e81e4, 0x65735546,
    ];
}
