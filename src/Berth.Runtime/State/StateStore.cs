using System.Runtime.InteropServices;
using System.Text.Json;
using Berth.Linux;

namespace Berth.Runtime.State;

/// <summary>
/// The runtime's state root (--root, default /run/berth-runtime): one directory per container holding
/// state.json and exec.fifo. An exclusive flock on it serialises every command on one container, and the claim on
/// an id is one step: a directory made under a hidden name and locked, then renamed to the id (never over one), so
/// that nobody ever sees the id's directory unlocked before its create holds it.
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
        SweepAbandonedClaims();
        string dir = DirFor(id);
        if (Directory.Exists(dir)) throw new ContainerException($"container with id exists: {id}");
        string pending = Path.Combine(Root, $"{PendingPrefix}{id}.{Environment.ProcessId}.{Random.Shared.Next():x8}");
        if (Libc.mkdirat(Libc.AT_FDCWD, pending, 0x1c9 /* 0711 */) < 0)
            throw new ContainerException($"creating the state directory {pending}: {LinuxException.FromLastError("mkdir", pending).Message}");
        ContainerLock? held = null;
        try
        {
            held = ContainerLock.Acquire(pending, id, TimeSpan.Zero);
            if (Libc.renameat2(Libc.AT_FDCWD, pending, Libc.AT_FDCWD, dir, Libc.RENAME_NOREPLACE) < 0)
            {
                var e = LinuxException.FromLastError("rename", $"{pending} to {dir}");
                if (e.Errno is Errno.EEXIST or Errno.ENOTEMPTY) throw new ContainerException($"container with id exists: {id}");
                throw new ContainerException($"claiming the state directory {dir}: {e.Message}");
            }
            return held;
        }
        catch
        {
            held?.Dispose();
            Directory.Delete(pending, recursive: true);
            throw;
        }
    }

    const string PendingPrefix = ".claim-";

    /// <summary>
    /// Hidden claims whose create died before the rename: their name carries the creator's pid, and only a claim whose
    /// creator is gone (and whose lock nobody holds) is removed; a live creator may be between its mkdir and its lock.
    /// </summary>
    void SweepAbandonedClaims()
    {
        foreach (var pending in Directory.EnumerateDirectories(Root, PendingPrefix + "*"))
        {
            var parts = Path.GetFileName(pending).Split('.');
            if (parts.Length < 3 || !int.TryParse(parts[^2], out int creator) || Directory.Exists($"/proc/{creator}")) continue;
            try
            {
                using var orphan = ContainerLock.TryAcquire(pending);
                if (orphan is not null) Directory.Delete(pending, recursive: true);
            }
            catch (Exception e) when (e is IOException or LinuxException or UnauthorizedAccessException)
            {
                // Gone meanwhile: the next claim looks again.
            }
        }
    }

    /// <summary>Locks an existing container's state; fails with "does not exist" when there is none.</summary>
    public ContainerLock Lock(string id) => TryLock(id) ?? throw new ContainerException($"container does not exist: {id}");

    /// <summary>
    /// Locks an existing container's state, or returns null when there is none. The wait may outlast the container:
    /// a delete that held the lock removes the directory, and a create may claim the id again meanwhile; the lock is
    /// then taken on the directory that holds the id now, never kept on the removed one.
    /// </summary>
    public ContainerLock? TryLock(string id)
    {
        string dir = DirFor(id);
        for (;;)
        {
            ContainerLock held;
            try
            {
                held = ContainerLock.Acquire(dir, id);
            }
            catch (LinuxException e) when (e.Errno == Errno.ENOENT)
            {
                return null;
            }
            if (!held.Holds(dir))
            {
                held.Dispose();
                continue;
            }
            // A claim whose create failed removes its dir while we waited for the lock: nothing is there.
            if (File.Exists(Path.Combine(dir, StateFile))) return held;
            held.Dispose();
            return null;
        }
    }

    /// <summary>
    /// Removes a claimed directory that never got a state.json (a create killed right after its claim). Holding
    /// the lock proves no create is still running on it. Returns false when there is nothing of the kind; true also
    /// when the directory went while we waited for its lock (another delete removed it).
    /// </summary>
    public bool RemoveStaleClaim(string id)
    {
        string dir = DirFor(id);
        if (!Directory.Exists(dir) || File.Exists(Path.Combine(dir, StateFile))) return false;
        ContainerLock held;
        try
        {
            held = ContainerLock.Acquire(dir, id);
        }
        catch (LinuxException e) when (e.Errno == Errno.ENOENT)
        {
            return true;
        }
        using (held)
        {
            // Whoever held the lock before us may have removed the directory, and a create claimed the id anew.
            if (!held.Holds(dir)) return !Directory.Exists(dir);
            if (File.Exists(Path.Combine(dir, StateFile))) return false;
            Directory.Delete(dir, recursive: true);
            return true;
        }
    }

    public IEnumerable<string> Ids()
    {
        if (!Directory.Exists(Root)) return [];
        return Directory.EnumerateDirectories(Root).Select(Path.GetFileName).OfType<string>()
            .Where(id => !id.StartsWith(PendingPrefix, StringComparison.Ordinal) && File.Exists(Path.Combine(Root, id, StateFile)))
            .Order(StringComparer.Ordinal);
    }

    public ContainerState Read(string id)
    {
        string file = Path.Combine(DirFor(id), StateFile);
        try
        {
            return ContainerStateJson.Read(File.ReadAllBytes(file));
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
        WriteNewFile(tmp, ContainerStateJson.Write(state));
        ReplaceAtomically(tmp, file);
    }

    /// <summary>
    /// Puts <paramref name="tmp"/> in <paramref name="file"/>'s place in one step. An existing file is swapped out
    /// (RENAME_EXCHANGE) and then unlinked rather than renamed over: ext4 takes a rename over an existing file for a
    /// rewrite and starts writing the new file's data to the disk at once (auto_da_alloc), which cost about 0.5 ms of a
    /// `run`'s CPU over its four state updates, and a disk write each (perf: ext4_rename → ext4_alloc_da_blocks). A
    /// reader sees the old or the new file, never none. The old state left in the temporary file by a failed unlink, or
    /// by a command killed between the swap and the unlink, goes with the next write (which removes it first) or the
    /// container's directory: the new state is in place either way, so the write has succeeded.
    /// </summary>
    static void ReplaceAtomically(string tmp, string file)
    {
        if (Libc.renameat2(Libc.AT_FDCWD, tmp, Libc.AT_FDCWD, file, Libc.RENAME_EXCHANGE) == 0)
        {
            _ = Libc.unlinkat(Libc.AT_FDCWD, tmp, 0);
            return;
        }
        // ENOENT: the first write; EINVAL: a filesystem that cannot swap. A plain rename then.
        int errno = Marshal.GetLastPInvokeError();
        if (errno is not (Errno.ENOENT or Errno.EINVAL)) throw new LinuxException("rename", errno, $"{tmp} to {file}");
        if (Libc.renameat2(Libc.AT_FDCWD, tmp, Libc.AT_FDCWD, file, 0) < 0) throw LinuxException.FromLastError("rename", $"{tmp} to {file}");
    }

    /// <summary>
    /// Writes a file that should not exist yet in a container's directory (state.json's temporary copy, the saved
    /// config.json). Not File.WriteAllBytes: .NET opens for FileMode.Create without O_TRUNC and then calls
    /// ftruncate(fd, 0), and ext4 takes a file truncated to zero for a rewrite in place and flushes it to the disk
    /// when it is closed (auto_da_alloc): a synchronous write on every state change (perf: ext4_release_file →
    /// filemap_fdatawrite, about 2% of a `run`'s samples with the state root on ext4, as /run is on this host).
    /// Nor File.OpenHandle: open, write and close are all it takes, where .NET added a stat of the directory, an
    /// fstatfs, an lseek and a flock and its unlock (.NET's advisory lock) to every file it opens; and the leftover of a
    /// command killed between its write and its rename is unlinked only when there is one.
    /// </summary>
    public static void WriteNewFile(string path, byte[] bytes)
    {
        const int Flags = Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, Mode = 0x1b6; // 0666, less the umask
        Fd created;
        try
        {
            created = Sys.Open(path, Flags, Mode);
        }
        catch (LinuxException e) when (e.Errno == Errno.EEXIST)
        {
            if (Libc.unlinkat(Libc.AT_FDCWD, path, 0) < 0) throw LinuxException.FromLastError("unlink", path);
            created = Sys.Open(path, Flags, Mode);
        }
        using var file = created;
        try
        {
            Sys.WriteAll(file, bytes);
        }
        catch (LinuxException e)
        {
            throw new LinuxException("write", e.Errno, path);
        }
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

/// <summary>
/// An exclusive flock on a container's state directory, held for the length of one command. Taking it is bounded
/// (<see cref="Timeout"/>): a command stuck in a hook must not block `delete --force` forever, and the error names
/// the process that holds the lock.
/// </summary>
public sealed class ContainerLock : IDisposable
{
    readonly Fd _dir;

    ContainerLock(Fd dir) => _dir = dir;

    /// <summary>How long a command waits for another one on the same container: BERTH_LOCK_TIMEOUT seconds, else 60.</summary>
    public static TimeSpan Timeout =>
        int.TryParse(Environment.GetEnvironmentVariable("BERTH_LOCK_TIMEOUT"), out int s) && s >= 0 ? TimeSpan.FromSeconds(s) : TimeSpan.FromSeconds(60);

    public static ContainerLock Acquire(string dir, string id) => Acquire(dir, id, Timeout);

    public static ContainerLock Acquire(string dir, string id, TimeSpan bound)
    {
        var fd = Sys.Open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY);
        var deadline = DateTime.UtcNow + bound;
        int pause = 5;
        for (;;)
        {
            if (Libc.flock(fd.Value, Libc.LOCK_EX | Libc.LOCK_NB) == 0) return new ContainerLock(fd);
            var e = LinuxException.FromLastError("flock", dir);
            if (e.Errno == Errno.EINTR) continue;
            if (e.Errno != Errno.EAGAIN || DateTime.UtcNow >= deadline)
            {
                string holder = e.Errno == Errno.EAGAIN ? Holder(fd) : "";
                fd.Dispose();
                if (e.Errno == Errno.EAGAIN)
                    throw new ContainerException($"container {id} is busy: {holder} has held its lock for more than {bound.TotalSeconds:0} s (BERTH_LOCK_TIMEOUT)");
                throw new ContainerException($"locking container {id}: {e.Message}");
            }
            Thread.Sleep(pause);
            pause = Math.Min(pause * 2, 100);
        }
    }

    /// <summary>Whether <paramref name="dir"/> still names the directory this lock is on (a command that held the lock
    /// before us may have removed it).</summary>
    public bool Holds(string dir)
    {
        var locked = Sys.FStat(_dir);
        return Libc.fstatat(Libc.AT_FDCWD, dir, out var now, 0) == 0 && now.Dev == locked.Dev && now.Ino == locked.Ino;
    }

    /// <summary>The lock if nobody holds it now, else null.</summary>
    public static ContainerLock? TryAcquire(string dir)
    {
        var fd = Sys.Open(dir, Libc.O_RDONLY | Libc.O_DIRECTORY);
        if (Libc.flock(fd.Value, Libc.LOCK_EX | Libc.LOCK_NB) == 0) return new ContainerLock(fd);
        fd.Dispose();
        return null;
    }

    /// <summary>"pid N (its command line)" of the process whose flock covers <paramref name="dir"/>, from /proc/locks.</summary>
    static string Holder(Fd dir)
    {
        var st = Sys.FStat(dir);
        // glibc's encoding of st_dev, as /proc/locks prints it: major:minor in hex, then the inode.
        ulong major = ((st.Dev >> 8) & 0xfff) | ((st.Dev >> 32) & 0xfffff000), minor = (st.Dev & 0xff) | ((st.Dev >> 12) & 0xffffff00);
        string device = $"{major:x2}:{minor:x2}:{st.Ino}";
        try
        {
            foreach (var line in File.ReadLines("/proc/locks"))
            {
                // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 6 || f[1] != "FLOCK" || !string.Equals(f[5], device, StringComparison.OrdinalIgnoreCase)) continue;
                string command = "";
                try
                {
                    command = File.ReadAllText($"/proc/{f[4]}/cmdline").Replace('\0', ' ').Trim();
                }
                catch (IOException)
                {
                    // It exited meanwhile.
                }
                return command.Length > 0 ? $"pid {f[4]} ({command})" : $"pid {f[4]}";
            }
        }
        catch (IOException)
        {
            // No /proc/locks: say what we can.
        }
        return "another process";
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
