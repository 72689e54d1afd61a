using Berth.Linux;

namespace Berth.Runtime.Init;

/// <summary>Finds process.args[0] inside the container as execvp would, so a missing program fails `create`.</summary>
internal static class ExecutableLookup
{
    const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static string Find(string name, IReadOnlyList<string> env, string cwd)
    {
        if (name.Length == 0) throw new ContainerException("process.args[0] is empty");
        if (name.Contains('/'))
        {
            string full = name.StartsWith('/') ? name : Path.Combine(cwd, name);
            Check(name, full);
            return full;
        }
        string path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
        foreach (var dir in path.Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (IsExecutableFile(candidate)) return candidate;
        }
        throw new ContainerException($"exec: \"{name}\": executable file not found in $PATH ({path})");
    }

    /// <summary>
    /// The same search for `exec`, from outside: every candidate is resolved inside <paramref name="root"/> (an fd of
    /// the container's root) with openat2(RESOLVE_IN_ROOT), so symlinks in the image cannot point at host files.
    /// Returns the absolute path inside the container that the spawn stage hands to execve after its chroot.
    /// </summary>
    public static string FindInRoot(Fd root, string name, IReadOnlyList<string> env, string cwd)
    {
        if (name.Length == 0) throw new ContainerException("exec: process args[0] is empty");
        if (name.Contains('/'))
        {
            string full = name.StartsWith('/') ? name : Path.Combine(cwd, name);
            switch (ProbeInRoot(root, full))
            {
                case Probe.Missing: throw new ContainerException($"exec: \"{name}\": no such file or directory");
                case Probe.Directory: throw new ContainerException($"exec: \"{name}\": is a directory");
                case Probe.NotExecutable: throw new ContainerException($"exec: \"{name}\": permission denied");
            }
            return full;
        }
        string path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
        foreach (var dir in path.Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? cwd : dir.StartsWith('/') ? dir : Path.Combine(cwd, dir), name);
            if (ProbeInRoot(root, candidate) == Probe.Executable) return candidate;
        }
        throw new ContainerException($"exec: \"{name}\": executable file not found in $PATH ({path})");
    }

    enum Probe { Executable, Missing, Directory, NotExecutable }

    static Probe ProbeInRoot(Fd root, string path)
    {
        Fd? fd;
        try
        {
            fd = Rootfs.InRoot.OpenIfExists(root, path, Libc.O_PATH | Libc.O_CLOEXEC);
        }
        catch (LinuxException)
        {
            return Probe.Missing; // ENOTDIR, ELOOP...: nothing execve could run either
        }
        if (fd is null) return Probe.Missing;
        using (fd)
        {
            var st = Sys.FStat(fd);
            if (st.FileType == Libc.S_IFDIR) return Probe.Directory;
            return (st.Mode & 0x49 /* 0111 */) != 0 ? Probe.Executable : Probe.NotExecutable;
        }
    }

    static void Check(string name, string full)
    {
        if (Libc.fstatat(Libc.AT_FDCWD, full, out var st, 0) < 0)
            throw new ContainerException($"exec: \"{name}\": {LinuxException.FromLastError("stat").Message}");
        if (st.FileType == Libc.S_IFDIR) throw new ContainerException($"exec: \"{name}\": is a directory");
        if (!MayExecute(full, st)) throw new ContainerException($"exec: \"{name}\": permission denied");
    }

    static bool IsExecutableFile(string path) =>
        Libc.fstatat(Libc.AT_FDCWD, path, out var st, 0) == 0 && st.FileType != Libc.S_IFDIR && MayExecute(path, st);

    /// <summary>
    /// Whether this thread may execute <paramref name="path"/>, as the kernel decides it: with the effective ids and
    /// capabilities (AT_EACCESS; plain access(2) uses the real ids and drops a non-root user's capabilities, so a user
    /// with CAP_DAC_OVERRIDE would be refused a file execve would run). faccessat2 came with Linux 5.8 and older
    /// seccomp profiles do not name it (they get ENOSYS from the filter, or EPERM from profiles without runc's rule):
    /// then, as Go's LookPath that runc uses, any execute bit will do and execve has the last word.
    /// </summary>
    static bool MayExecute(string path, Libc.Stat st)
    {
        if (Libc.faccessat2(Libc.AT_FDCWD, path, Libc.X_OK, Libc.AT_EACCESS) == 0) return true;
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return errno is Errno.ENOSYS or Errno.EPERM && (st.Mode & 0x49 /* 0111 */) != 0;
    }
}
