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
    /// The container's /etc/passwd, read through <paramref name="root"/> (a symlink stays inside it), or null when
    /// there is none or it is not a regular file (a FIFO there must not hang the runtime). At most 1 MiB.
    /// </summary>
    public static string? ReadPasswd(Fd root)
    {
        using var fd = InRoot.OpenIfExists(root, "/etc/passwd", Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        if (fd is null || (Sys.FStat(fd).Mode & Libc.S_IFMT) != Libc.S_IFREG) return null;
        var buffer = new byte[1 << 20];
        int total = 0, n;
        while (total < buffer.Length && (n = Sys.Read(fd, buffer.AsSpan(total))) > 0) total += n;
        return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
    }
}
