using Berth.Linux;

namespace Berth.Runtime.Init;

/// <summary>Writes linux.sysctl through the container's own procfs, after checking that /proc/sys really is procfs.</summary>
internal static class Sysctls
{
    public static void Apply(IReadOnlyDictionary<string, string> sysctls)
    {
        if (sysctls.Count == 0) return;
        Fd dir;
        try
        {
            dir = Sys.Open("/proc/sys", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW);
        }
        catch (LinuxException e)
        {
            throw new ContainerException($"linux.sysctl needs /proc mounted in the container: {e.Message}");
        }
        using (dir)
        {
            if (Sys.FsType(dir) != Sys.PROC_SUPER_MAGIC)
                throw new ContainerException("linux.sysctl: /proc/sys in the container is not procfs; refusing to write there");
            foreach (var (key, value) in sysctls)
            {
                string relative = key.Replace('.', '/');
                try
                {
                    using var fd = Sys.OpenAt(dir, relative, Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_TRUNC);
                    if (Sys.FsType(fd) != Sys.PROC_SUPER_MAGIC) throw new ContainerException($"sysctl {key}: not a procfs file");
                    Sys.WriteAll(fd, System.Text.Encoding.UTF8.GetBytes(value));
                }
                catch (LinuxException e)
                {
                    throw new ContainerException($"setting sysctl {key}={value}: {LinuxException.Describe(e.Errno)}");
                }
            }
        }
    }
}
