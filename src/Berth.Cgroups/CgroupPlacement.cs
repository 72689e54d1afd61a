using Berth.Linux;

namespace Berth.Cgroups;

/// <summary>
/// What a new process needs to place itself in a container's cgroups before it runs anything (the spawn stage,
/// spawn.c's place_in_cgroups): per directory a file open for writing, v1's <c>tasks</c> or cgroup2's
/// <c>cgroup.procs</c>, to which the process writes "0", and the cgroup2 directory itself for clone3's
/// CLONE_INTO_CGROUP. The runtime writing the pid into cgroup.procs instead (runc's and crun's way) takes the kernel's
/// global threadgroup lock for writing, which first waits for an RCU grace period: 7-19 ms here, on the critical path
/// of every create and exec. A thread that moves itself through <c>tasks</c>, and a clone into a cgroup, take no such
/// lock; a single-threaded process that moves its thread moves all of itself.
/// </summary>
public sealed class CgroupPlacement : IDisposable
{
    readonly List<Fd> _files;

    CgroupPlacement(List<Fd> files, List<string> paths, Fd? directory, int directoryIndex)
    {
        _files = files;
        Paths = paths;
        Directory = directory;
        DirectoryIndex = directoryIndex;
    }

    /// <summary>The files the process writes "0" to, in the order of <see cref="Paths"/>.</summary>
    public IReadOnlyList<Fd> Files => _files;

    /// <summary>Each file's path, for errors ("entry N of the request").</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>The cgroup2 directory (O_RDONLY|O_DIRECTORY, as CLONE_INTO_CGROUP needs), or null on a pure v1 host.</summary>
    public Fd? Directory { get; }

    /// <summary>The entry of <see cref="Files"/> that a clone into <see cref="Directory"/> makes needless; -1 without one.</summary>
    public int DirectoryIndex { get; }

    /// <summary>
    /// Opens the placement files of <paramref name="directories"/>, checking each is on a cgroup filesystem.
    /// <paramref name="isV2"/> tells a cgroup2 directory from a v1 one.
    /// </summary>
    internal static CgroupPlacement Open(IEnumerable<(string Dir, bool IsV2)> directories)
    {
        var files = new List<Fd>();
        var paths = new List<string>();
        Fd? directory = null;
        int directoryIndex = -1;
        try
        {
            foreach (var (dir, isV2) in directories)
            {
                string file = Path.Combine(dir, isV2 ? "cgroup.procs" : "tasks");
                files.Add(OpenOrThrow(file, Libc.O_WRONLY | Libc.O_CLOEXEC, "to place the container's process there"));
                paths.Add(file);
                if (isV2 && directory is null)
                {
                    directory = OpenOrThrow(dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, "to clone into it");
                    directoryIndex = files.Count - 1;
                }
            }
            return new CgroupPlacement(files, paths, directory, directoryIndex);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            directory?.Dispose();
            throw;
        }
    }

    static Fd OpenOrThrow(string path, int flags, string why)
    {
        int fd = Libc.open(path, flags, 0);
        if (fd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new CgroupException($"open {path} {why}: {LinuxException.Describe(errno)}") { Errno = errno };
        }
        return new Fd(fd);
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        Directory?.Dispose();
    }
}
