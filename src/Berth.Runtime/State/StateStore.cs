using System.Text.Json;
using Berth.Linux;

namespace Berth.Runtime.State;

/// <summary>
/// The runtime's state root (--root, default /run/berth-runtime): one directory per container holding
/// state.json and exec.fifo. Creating the directory is the atomic claim on an id; an exclusive flock on it
/// serialises every command on one container.
/// </summary>
public sealed class StateStore(string root)
{
    public const string DefaultRoot = "/run/berth-runtime";
    public const string StateFile = "state.json", FifoName = "exec.fifo";
    /// <summary>The spec the container was created from, as create read it: `exec` takes its defaults from it even if
    /// the bundle changed since (runc keeps its config in its state too).</summary>
    public const string ConfigFile = "config.json";

    public string Root { get; } = Path.GetFullPath(root);

    public string DirFor(string id) => Path.Combine(Root, id);

    /// <summary>Claims a new id; fails clearly when it exists (including when another create is racing us).</summary>
    public ContainerLock Claim(string id)
    {
        EnsureRoot();
        string dir = DirFor(id);
        if (Libc.mkdirat(Libc.AT_FDCWD, dir, 0x1c9 /* 0711 */) < 0)
        {
            var e = LinuxException.FromLastError("mkdir", dir);
            if (e.Errno == Errno.EEXIST) throw new ContainerException($"container with id exists: {id}");
            throw new ContainerException($"creating the state directory {dir}: {e.Message}");
        }
        return ContainerLock.Acquire(dir, id);
    }

    /// <summary>Locks an existing container's state; fails with "does not exist" when there is none.</summary>
    public ContainerLock Lock(string id)
    {
        string dir = DirFor(id);
        try
        {
            var l = ContainerLock.Acquire(dir, id);
            // A claim whose create failed removes its dir while we waited for the lock: nothing is there.
            if (!File.Exists(Path.Combine(dir, StateFile)))
            {
                l.Dispose();
                throw new ContainerException($"container does not exist: {id}");
            }
            return l;
        }
        catch (LinuxException e) when (e.Errno == Errno.ENOENT)
        {
            throw new ContainerException($"container does not exist: {id}");
        }
    }

    /// <summary>
    /// Removes a claimed directory that never got a state.json (a create killed right after its claim). Holding
    /// the lock proves no create is still running on it. Returns false when there is nothing of the kind.
    /// </summary>
    public bool RemoveStaleClaim(string id)
    {
        string dir = DirFor(id);
        if (!Directory.Exists(dir) || File.Exists(Path.Combine(dir, StateFile))) return false;
        using var held = ContainerLock.Acquire(dir, id);
        if (File.Exists(Path.Combine(dir, StateFile))) return false;
        Directory.Delete(dir, recursive: true);
        return true;
    }

    public IEnumerable<string> Ids()
    {
        if (!Directory.Exists(Root)) return [];
        return Directory.EnumerateDirectories(Root).Select(Path.GetFileName).OfType<string>()
            .Where(id => File.Exists(Path.Combine(Root, id, StateFile))).Order(StringComparer.Ordinal);
    }

    public ContainerState Read(string id)
    {
        string file = Path.Combine(DirFor(id), StateFile);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(file), RuntimeJsonContext.Default.ContainerState)
                ?? throw new ContainerException($"state file {file} is empty");
        }
        catch (JsonException e)
        {
            throw new ContainerException($"state file {file} is corrupt: {e.Message}");
        }
    }

    /// <summary>Writes state.json atomically (temp file + rename), so a reader never sees half of it.</summary>
    public void Write(ContainerState state)
    {
        string file = Path.Combine(DirFor(state.Id), StateFile);
        string tmp = file + ".tmp";
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(state, RuntimeJsonContext.Default.ContainerState));
        File.Move(tmp, file, overwrite: true);
    }

    public void Remove(string id)
    {
        string dir = DirFor(id);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    void EnsureRoot()
    {
        if (Directory.Exists(Root)) return;
        Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}

/// <summary>An exclusive flock on a container's state directory, held for the length of one command.</summary>
public sealed class ContainerLock : IDisposable
{
    readonly Fd _dir;

    ContainerLock(Fd dir) => _dir = dir;

    public static ContainerLock Acquire(string dir, string id)
    {
        var fd = Sys.Open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY);
        while (Libc.flock(fd.Value, Libc.LOCK_EX) < 0)
        {
            var e = LinuxException.FromLastError("flock", dir);
            if (e.Errno == Errno.EINTR) continue;
            fd.Dispose();
            throw new ContainerException($"locking container {id}: {e.Message}");
        }
        return new ContainerLock(fd);
    }

    /// <summary>Unlocks for every copy of the fd (a child that inherited it holds the same open file); idempotent.</summary>
    public void Release()
    {
        if (!_dir.IsInvalid && !_dir.IsClosed) Libc.flock(_dir.Value, Libc.LOCK_UN);
    }

    public void Dispose()
    {
        Release();
        _dir.Dispose();
    }
}
