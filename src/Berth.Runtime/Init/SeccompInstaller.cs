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
    public static void Install(SeccompFilter filter)
    {
        fixed (SockFilter* instructions = filter.Program)
        {
            var prog = new Libc.SockFprog { Len = (ushort)filter.Program.Length, Filter = instructions };
            if (Libc.seccomp_set_mode_filter(filter.Flags, &prog) == 0) return;
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
}
