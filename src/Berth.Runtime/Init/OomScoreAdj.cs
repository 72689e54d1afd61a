using Berth.Linux;

namespace Berth.Runtime.Init;

/// <summary>process.oomScoreAdj, written by init for itself (the user's process inherits it across execve).</summary>
internal static class OomScoreAdj
{
    public static void Set(int? value)
    {
        if (value is null) return;
        try
        {
            // Through a private procfs, as sysctls: the container's /proc/self/oom_score_adj may be a bind of another file.
            using var proc = PrivateProcfs.Open("process.oomScoreAdj");
            proc.Write($"{PrivateProcfs.Self}/oom_score_adj", value.Value.ToString());
        }
        catch (LinuxException e)
        {
            string hint = e.Errno == Errno.EACCES || e.Errno == Errno.EPERM ? " (lowering it needs CAP_SYS_RESOURCE)" : "";
            throw new ContainerException($"process.oomScoreAdj: setting it to {value}: {LinuxException.Describe(e.Errno)}{hint}");
        }
    }
}
