using Berth.Linux;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Init;

/// <summary>
/// linux.sysctl: which keys a container may set (only those its own namespaces scope, as runc allows), and
/// writing them through a private procfs (<see cref="PrivateProcfs"/>), never through the container's /proc.
/// </summary>
internal static class Sysctls
{
    // The IPC namespace scopes these and fs.mqueue.*.
    static readonly HashSet<string> IpcKeys = new(StringComparer.Ordinal)
    {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
        "kernel.shmmni", "kernel.shm_rmid_forced",
    };

    /// <summary>
    /// Refuses a key that would change the host: one no namespace of the container scopes (kernel.core_pattern), or a
    /// net.* key while the container shares the runtime's network namespace (by omission or by a path to it).
    /// Runs in `create`, in the runtime's namespaces.
    /// </summary>
    public static void Validate(ContainerConfig config)
    {
        foreach (string key in config.Sysctl.Keys)
        {
            string where = $"linux.sysctl[\"{key}\"]";
            if (IpcKeys.Contains(key) || key.StartsWith("fs.mqueue.", StringComparison.Ordinal))
            {
                if (!config.Has(NamespaceKind.Ipc))
                    throw new ContainerException($"{where}: not allowed in the host's IPC namespace (add an ipc namespace)");
                continue;
            }
            if (key.StartsWith("net.", StringComparison.Ordinal))
            {
                if (config.Get(NamespaceKind.Network) is not { } net)
                    throw new ContainerException($"{where}: not allowed in the host's network namespace (add a network namespace)");
                if (net.Path is { } path && SameNamespace(path, "/proc/self/ns/net"))
                    throw new ContainerException($"{where}: the network namespace {path} is the runtime's own");
                continue;
            }
            if (config.Has(NamespaceKind.Uts) && key == "kernel.domainname") continue;
            if (config.Has(NamespaceKind.Uts) && key == "kernel.hostname")
                throw new ContainerException($"{where}: not allowed, it conflicts with the hostname field");
            throw new ContainerException($"{where}: not scoped by any namespace of the container, so it would change the host");
        }
    }

    static bool SameNamespace(string a, string b)
    {
        try
        {
            using Fd fa = Sys.Open(a, Libc.O_RDONLY), fb = Sys.Open(b, Libc.O_RDONLY);
            var (sa, sb) = (Sys.FStat(fa), Sys.FStat(fb));
            return sa.Dev == sb.Dev && sa.Ino == sb.Ino;
        }
        catch (LinuxException e)
        {
            throw new ContainerException($"network namespace path {a}: {e.Message}");
        }
    }

    public static void Apply(IReadOnlyDictionary<string, string> sysctls)
    {
        if (sysctls.Count == 0) return;
        using var proc = PrivateProcfs.Open("linux.sysctl");
        foreach (var (key, value) in sysctls)
        {
            try
            {
                proc.Write("sys/" + key.Replace('.', '/'), value);
            }
            catch (LinuxException e)
            {
                throw new ContainerException($"linux.sysctl: setting {key}={value}: {LinuxException.Describe(e.Errno)}");
            }
        }
    }
}
