using Berth.Linux;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Init;

/// <summary>
/// The last steps before execve, in the order the kernel requires: rlimits, then the bounding set, then
/// groups and ids (keeping capabilities across the uid change), then the capability sets, ambient
/// capabilities, and no_new_privs. Capabilities and no_new_privs are per thread, so everything here and the
/// execve itself run on init's main thread, in one straight sequence.
/// </summary>
internal static unsafe class ProcessSetup
{
    public static void ApplyRlimits(ProcessConfig process)
    {
        foreach (var r in process.Rlimits)
        {
            var limit = new Libc.RLimit { Cur = r.Soft, Max = r.Hard };
            if (Libc.prlimit(0, r.Resource, &limit, null) == 0) continue;
            var e = LinuxException.FromLastError("setrlimit", r.Name);
            string hint = "";
            if (e.Errno == Errno.EPERM)
            {
                Libc.RLimit current;
                if (Libc.prlimit(0, r.Resource, null, &current) == 0)
                    hint = $"; the runtime's own hard limit is {FormatLimit(current.Max)}, and raising a hard limit needs CAP_SYS_RESOURCE";
            }
            throw new ContainerException($"setrlimit {r.Name} (soft {FormatLimit(r.Soft)}, hard {FormatLimit(r.Hard)}): {LinuxException.Describe(e.Errno)}{hint}");
        }
    }

    static string FormatLimit(ulong v) => v == ulong.MaxValue ? "unlimited" : v.ToString();

    public static void SetOomScoreAdj(int? value)
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
            throw new ContainerException($"setting oomScoreAdj to {value}: {LinuxException.Describe(e.Errno)}{hint}");
        }
    }

    public static void SetUserAndCapabilities(ProcessConfig process, Action<string> warn)
    {
        var caps = process.Capabilities;
        int lastCap = LastCapability();
        if (caps is not null)
        {
            for (int cap = 0; cap <= lastCap; cap++)
            {
                if ((caps.Bounding & (1UL << cap)) != 0) continue;
                if (Libc.prctl(Libc.PR_CAPBSET_DROP, (ulong)cap, 0, 0, 0) < 0)
                    throw new ContainerException($"dropping capability {Capabilities.NameOf(cap)} from the bounding set: {LinuxException.FromLastError("prctl").Message}");
            }
        }

        if (Libc.prctl(Libc.PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) throw Fail("prctl(PR_SET_KEEPCAPS)");
        var groups = process.AdditionalGids.ToArray();
        // A user namespace whose setgroups is "deny" (joined from an unprivileged creator) forbids the call
        // outright; then only an empty group list can be honoured, by not calling it, as runc does.
        if (groups.Length > 0 || !SetgroupsDenied())
        {
            fixed (uint* g = groups)
            {
                if (Libc.setgroups(groups.Length, g) < 0)
                    throw new ContainerException($"setgroups({string.Join(",", groups)}){(SetgroupsDenied() ? " (setgroups is denied in this user namespace)" : "")}: {LinuxException.FromLastError("setgroups").Message}");
            }
        }
        if (Libc.setresgid(process.Gid, process.Gid, process.Gid) < 0)
            throw new ContainerException($"setting gid {process.Gid}: {LinuxException.FromLastError("setresgid").Message}");
        if (Libc.setresuid(process.Uid, process.Uid, process.Uid) < 0)
            throw new ContainerException($"setting uid {process.Uid}: {LinuxException.FromLastError("setresuid").Message}");

        if (caps is not null)
        {
            var header = new Libc.CapHeader { Version = Libc.LINUX_CAPABILITY_VERSION_3 };
            var data = stackalloc Libc.CapData[2];
            for (int i = 0; i < 2; i++)
            {
                int shift = 32 * i;
                data[i].Effective = (uint)(caps.Effective >> shift);
                data[i].Permitted = (uint)(caps.Permitted >> shift);
                data[i].Inheritable = (uint)(caps.Inheritable >> shift);
            }
            if (Libc.capset(&header, data) < 0)
                throw new ContainerException($"capset (effective 0x{caps.Effective:x}, permitted 0x{caps.Permitted:x}, inheritable 0x{caps.Inheritable:x}): {LinuxException.FromLastError("capset").Message}");

            if (Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) throw Fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
            for (int cap = 0; cap <= lastCap; cap++)
            {
                if ((caps.Ambient & (1UL << cap)) == 0) continue;
                // An ambient capability must also be permitted and inheritable. runc warns and goes on (its default
                // spec lists ambient capabilities without inheritable ones), and so do we.
                if (Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_RAISE, (ulong)cap, 0, 0) < 0)
                    warn($"can't raise ambient capability {Capabilities.NameOf(cap)} (it must also be permitted and inheritable): {LinuxException.FromLastError("prctl").Message}");
            }
        }
        if (Libc.prctl(Libc.PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) throw Fail("prctl(PR_SET_KEEPCAPS)");

        if (process.NoNewPrivileges && Libc.prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw Fail("prctl(PR_SET_NO_NEW_PRIVS)");
    }

    static bool SetgroupsDenied()
    {
        try
        {
            return File.ReadAllText("/proc/self/setgroups").Trim() == "deny";
        }
        catch (IOException)
        {
            return false;
        }
    }

    static ContainerException Fail(string call) => new(LinuxException.FromLastError(call).Message);

    static int LastCapability()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim());
        }
        catch (IOException)
        {
            return 40;
        }
    }
}
