using Berth.Linux;
using Berth.Seccomp;

namespace Berth.Runtime.Init;

/// <summary>
/// Loads a compiled filter with seccomp(SECCOMP_SET_MODE_FILTER). The kernel takes it only from a thread with
/// no_new_privs set or with CAP_SYS_ADMIN, which is why init installs it either last (no_new_privs) or before the
/// user and capability switch (without no_new_privs, as runc's standard_init_linux.go does).
/// </summary>
internal static unsafe class SeccompInstaller
{
    /// <summary>Installs the filter; returns the notify fd when the profile has SCMP_ACT_NOTIFY rules, else null.</summary>
    public static Fd? Install(SeccompFilter filter)
    {
        fixed (SockFilter* instructions = filter.Program)
        {
            var prog = new Libc.SockFprog { Len = (ushort)filter.Program.Length, Filter = instructions };
            int result = Libc.seccomp_set_mode_filter(filter.Flags, &prog);
            if (result >= 0) return filter.NewListener ? new Fd(result) : null;
            var e = LinuxException.FromLastError("seccomp(SECCOMP_SET_MODE_FILTER)");
            string hint = e.Errno switch
            {
                Errno.EACCES => "; the kernel wants no_new_privs or CAP_SYS_ADMIN for it",
                Errno.EINVAL when filter.Flags != 0 => $"; this kernel may not know one of the flags (0x{filter.Flags:x}) in linux.seccomp.flags",
                _ => "",
            };
            throw new ContainerException($"installing the seccomp filter ({filter.Program.Length} instructions, flags 0x{filter.Flags:x}): {e.Message}{hint}");
        }
    }

    /// <summary>
    /// Installs the filter and, with SCMP_ACT_NOTIFY rules, hands the notify fd to the runtime, which sends it on
    /// to linux.seccomp.listenerPath (runc's procSeccomp). Our copy is closed at once, so that neither
    /// startContainer hooks nor the user's process inherit it.
    /// </summary>
    public static void InstallAndHandOver(SeccompFilter filter, InitChannel channel)
    {
        using var listener = Install(filter);
        if (listener is null) return;
        channel.Send(new InitReport { Type = InitReport.SeccompListener }, RuntimeJsonContext.Default.InitReport);
        UnixSocket.SendFd(channel.Socket, listener, "s"u8);
    }
}
