using Berth.Linux;
using Berth.Runtime.Configs;

namespace Berth.Runtime;

/// <summary>
/// The spawn stage's and the shared process setup's failures (<see cref="SpawnError"/>) in words: one table for
/// init, `exec` and hooks.
/// </summary>
internal static class SpawnFailure
{
    /// <param name="joinNames">The namespaces the stage joined, in the order of the request's join fds, as a sentence
    /// names them ("the container's pid namespace").</param>
    /// <param name="cwd">The process's cwd, for the chdir and getcwd steps.</param>
    /// <param name="cgroupFiles">The files the stage placed itself through, in the order of the request.</param>
    public static string What(SpawnError error, IReadOnlyList<string> joinNames, string? cwd, IReadOnlyList<string>? cgroupFiles = null)
    {
        int detail = error.Detail;
        return error.Stage switch
        {
            SpawnStage.Setns => $"joining {(detail >= 0 && detail < joinNames.Count ? joinNames[detail] : $"namespace #{detail}")}",
            SpawnStage.Unshare => $"unshare(0x{detail:x})",
            SpawnStage.Sync => "namespace handshake with the runtime",
            SpawnStage.SetId => detail == 1
                ? "setresgid(0) in the user namespace (linux.gidMappings must map the container's gid 0)"
                : "setresuid(0) in the user namespace (linux.uidMappings must map the container's uid 0)",
            SpawnStage.Fds => detail == -1 ? "marking fds close-on-exec" : $"passing fd {detail}",
            SpawnStage.Fork => "fork into the PID namespace",
            SpawnStage.Exec => "exec",
            SpawnStage.Dumpable => "prctl(PR_SET_DUMPABLE, 0)",
            SpawnStage.Chroot => detail == 0 ? "entering the container's root (fchdir)" : "entering the container's root (chroot)",
            SpawnStage.Rlimit => $"setrlimit {(detail >= 0 && detail < Rlimits.Count ? Rlimits.NameOf(detail) : detail.ToString())} (process.rlimits)",
            SpawnStage.Seccomp => detail == 2 ? "handing the seccomp listener fd to the runtime" : "installing the container's seccomp filter (linux.seccomp)",
            SpawnStage.Bounding => $"dropping {(detail >= 0 && detail <= Capabilities.Last ? Capabilities.NameOf(detail) : $"capability {detail}")} from the bounding set (process.capabilities.bounding)",
            SpawnStage.KeepCaps => "prctl(PR_SET_KEEPCAPS)",
            SpawnStage.Setgroups => "setgroups (process.user.additionalGids)",
            SpawnStage.Setgid => $"setting gid {detail} (process.user.gid)",
            SpawnStage.Setuid => $"setting uid {detail} (process.user.uid)",
            SpawnStage.Capset => "capset (process.capabilities: effective must be within permitted, inheritable within bounding)",
            SpawnStage.Ambient => "clearing ambient capabilities",
            SpawnStage.NoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS) (process.noNewPrivileges)",
            SpawnStage.Cwd => detail switch
            {
                0 => $"chdir to cwd {cwd}",
                1 => $"getcwd after chdir to cwd {cwd}",
                _ => $"cwd {cwd}",
            },
            SpawnStage.Ctty => "making the pty the controlling terminal (TIOCSCTTY)",
            SpawnStage.Session => "setsid (a session of its own)",
            SpawnStage.Reexec => detail == 0
                ? "keeping the stage's fds open across the re-exec of the sealed runtime binary"
                : "re-executing the sealed runtime binary",
            SpawnStage.Parent => detail == 0 ? "prctl(PR_SET_PDEATHSIG)" : "the runtime exited while the stage started",
            SpawnStage.Close => $"closing the runtime's fds from {detail} on",
            SpawnStage.Cgroup => $"placing the process in its cgroup (writing 0 to {(cgroupFiles is not null && detail >= 0 && detail < cgroupFiles.Count ? cgroupFiles[detail] : $"cgroup file #{detail}")})",
            _ => $"spawn stage {(int)error.Stage}",
        };
    }

    /// <summary>"<paramref name="prefix"/>: what: cause", with the hints a user needs for the common failures.</summary>
    public static ContainerException Describe(string prefix, SpawnError error, IReadOnlyList<string> joinNames, string? cwd,
        IReadOnlyList<string>? cgroupFiles = null)
    {
        if (error.Stage == SpawnStage.Cwd && error.Detail == 2)
            return new ContainerException($"cwd {cwd} resolves outside the container's root (refused: CVE-2024-21626)");
        string hint = error.Stage == SpawnStage.Rlimit && error.Error == Errno.EPERM ? RlimitHint(error.Detail) : "";
        return new ContainerException($"{prefix}: {What(error, joinNames, cwd, cgroupFiles)}: {LinuxException.Describe(error.Error)}{hint}");
    }

    static unsafe string RlimitHint(int resource)
    {
        Libc.RLimit current;
        if (Libc.prlimit(0, resource, null, &current) < 0) return "; raising a hard limit needs CAP_SYS_RESOURCE";
        string hard = current.Max == ulong.MaxValue ? "unlimited" : current.Max.ToString();
        return $"; the runtime's own hard limit is {hard}, and raising a hard limit needs CAP_SYS_RESOURCE";
    }
}
