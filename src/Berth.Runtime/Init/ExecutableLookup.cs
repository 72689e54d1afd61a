using Berth.Linux;

namespace Berth.Runtime.Init;

/// <summary>Finds process.args[0] inside the container as execvp would, so a missing program fails `create`.</summary>
internal static class ExecutableLookup
{
    const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    const int X_OK = 1;

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

    static void Check(string name, string full)
    {
        if (Libc.fstatat(Libc.AT_FDCWD, full, out var st, 0) < 0)
            throw new ContainerException($"exec: \"{name}\": {LinuxException.FromLastError("stat").Message}");
        if (st.FileType == Libc.S_IFDIR) throw new ContainerException($"exec: \"{name}\": is a directory");
        if (access(full, X_OK) < 0) throw new ContainerException($"exec: \"{name}\": permission denied");
    }

    static bool IsExecutableFile(string path) =>
        Libc.fstatat(Libc.AT_FDCWD, path, out var st, 0) == 0 && st.FileType != Libc.S_IFDIR && access(path, X_OK) == 0;

    static int access(string path, int mode) => Libc.faccessat(Libc.AT_FDCWD, path, mode, 0);
}
