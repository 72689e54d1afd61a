using Berth.Linux;

namespace Berth.Runtime;

/// <summary>--preserve-fds of create, run and exec: the caller's fds 3 .. 3+count-1 go to the container's process.</summary>
static class PreservedFds
{
    /// <summary>Each of them must be open and inherited.</summary>
    public static void Check(int count)
    {
        if (count < 0) throw new ContainerException($"--preserve-fds {count}: must not be negative");
        // The caller's fds are inherited, so not close-on-exec; one that is was opened by this process itself
        // (the .NET runtime takes low numbers the caller left free) and is no fd of the caller's.
        for (int fd = 3; fd < 3 + count; fd++)
        {
            int flags = Libc.fcntl(fd, Libc.F_GETFD, 0);
            if (flags < 0 || (flags & Libc.FD_CLOEXEC) != 0)
                throw new ContainerException($"--preserve-fds {count}: fd {fd} was not passed to berth-runtime");
        }
    }
}
