using System.Formats.Tar;
using System.Runtime.InteropServices;
using Berth.Daemon.Api;
using Berth.Linux;
using Microsoft.Win32.SafeHandles;

namespace Berth.Daemon.Containers.Archive;

/// <summary>How a PUT extracts: dockerd's noOverwriteDirNonDir, and the owner copyUIDGID gives every file (else the tar's).</summary>
public sealed record ExtractOptions(bool NoOverwriteDirNonDir, (uint Uid, uint Gid)? Owner);

/// <summary>
/// Unpacks a tar into a directory of the container, as dockerd's chrootarchive.Untar: entry names are taken below the
/// destination (a leading "/" dropped); an entry whose name, relative symlink target or hardlink target climbs out of
/// the destination with ".." is refused; a symlink may point anywhere in the container (an absolute target means the
/// container's "/"), and an entry written "through" one lands where the container would find it, inside its root.
/// Each entry's parent is resolved from the root fd (<see cref="ContainerRoot"/>), and the entry itself made with *at
/// calls that never follow it; owner, mode and times are set on the fd the entry was opened as. Streamed: file data
/// goes from the request to the file.
/// </summary>
public sealed class ArchiveExtractor(ContainerRoot root, IReadOnlyList<string> destination, ExtractOptions options)
{
    readonly string _shown = "/" + string.Join('/', destination);
    readonly List<(List<string> Parts, DateTimeOffset Mtime)> _directories = [];

    public async Task ExtractAsync(Stream body, CancellationToken ct)
    {
        var reader = new TarReader(body, leaveOpen: true);
        for (int index = 0; ; index++)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, ct);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException)
            {
                throw ApiException.BadRequest(e is EndOfStreamException
                    ? "Error processing tar file: unexpected EOF"
                    : $"Error processing tar file: entry {index + 1} is not a valid tar header");
            }
            if (entry is null) break;
            if (entry.EntryType is TarEntryType.GlobalExtendedAttributes) continue;
            await ExtractAsync(entry, ct);
        }
        // Last, as dockerd: creating entries inside a directory changes its mtime.
        foreach (var (parts, mtime) in _directories)
        {
            using var dir = root.TryOpen([.. destination, .. parts], followLast: false, Libc.O_RDONLY | Libc.O_DIRECTORY, out _);
            if (dir is not null) SetTimes(dir, mtime);
        }
    }

    async Task ExtractAsync(TarEntry entry, CancellationToken ct)
    {
        string name = entry.Name;
        var parts = ContainerPath.Below(name) ?? throw ApiException.BadRequest($"Error processing tar file: \"{name}\" is outside of \"{_shown}\"");
        bool isDir = entry.EntryType == TarEntryType.Directory;
        if (parts.Count == 0)
        {
            // "." is the destination itself, which exists and is a directory: nothing to make, as dockerd.
            if (isDir) return;
            throw ApiException.BadRequest($"Error processing tar file: cannot overwrite the directory \"{_shown}\" with the non-directory \"{name}\"");
        }
        string leaf = parts[^1];
        using var parent = root.OpenDirectory([.. destination, .. parts[..^1]], name);
        var existing = ContainerRoot.Lstat(parent, leaf);
        bool keepDir = false;
        if (existing is { } found)
        {
            bool wasDir = found.FileType == Libc.S_IFDIR;
            if (options.NoOverwriteDirNonDir && wasDir != isDir)
                throw ApiException.BadRequest(wasDir
                    ? $"Error processing tar file: cannot overwrite directory \"{Shown(parts)}\" with non-directory \"{name}\""
                    : $"Error processing tar file: cannot overwrite non-directory \"{Shown(parts)}\" with directory \"{name}\"");
            keepDir = wasDir && isDir;
            if (!keepDir) RemoveAll(parent, leaf);
        }
        var (uid, gid) = options.Owner ?? ((uint)entry.Uid, (uint)entry.Gid);
        uint mode = (uint)entry.Mode & 0xfff;
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                if (!keepDir && Libc.mkdirat(parent.Value, leaf, 0x1c0) < 0) throw Failed("mkdirat", name);
                using (var dir = Sys.OpenAt(parent, leaf, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW))
                    SetOwnerAndMode(dir, uid, gid, mode, name);
                _directories.Add((parts, entry.ModificationTime));
                return;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                await WriteFileAsync(parent, leaf, entry, uid, gid, mode, ct);
                return;
            case TarEntryType.SymbolicLink:
                string target = entry.LinkName;
                if (target.Length == 0 || target.Contains('\0')) throw ApiException.BadRequest($"Error processing tar file: symlink \"{name}\" has an empty target");
                if (!target.StartsWith('/') && ContainerPath.Below(string.Join('/', parts[..^1]) + "/" + target) is null)
                    throw ApiException.BadRequest($"Error processing tar file: invalid symlink \"{Shown(parts)}\" -> \"{target}\"");
                if (Libc.symlinkat(target, parent.Value, leaf) < 0) throw Failed("symlinkat", name);
                if (Libc.fchownat(parent.Value, leaf, uid, gid, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw Failed("fchownat", name);
                SetTimes(parent, leaf, entry.ModificationTime, name);
                return;
            case TarEntryType.HardLink:
                Link(parent, leaf, entry.LinkName, name, parts);
                return;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                var (type, dev) = Berth.Snapshots.TarSpecialFile.Node(entry);
                if (Libc.mknodat(parent.Value, leaf, type | (mode & 0x1ff), dev) < 0) throw Failed("mknodat", name);
                if (Libc.fchownat(parent.Value, leaf, uid, gid, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw Failed("fchownat", name);
                // AT_SYMLINK_NOFOLLOW: the node is never followed should the container swap it for a symlink.
                if (Libc.fchmodat(parent.Value, leaf, mode, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw Failed("fchmodat", name);
                SetTimes(parent, leaf, entry.ModificationTime, name);
                return;
            default:
                throw ApiException.BadRequest($"Error processing tar file: unhandled tar header type {entry.EntryType} of \"{name}\"");
        }
    }

    async Task WriteFileAsync(Fd parent, string leaf, TarEntry entry, uint uid, uint gid, uint mode, CancellationToken ct)
    {
        // O_EXCL | O_NOFOLLOW: the name was just removed; anything the container put there meanwhile is refused, not followed.
        int fd = Libc.openat(parent.Value, leaf, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180);
        if (fd < 0) throw Failed("openat", entry.Name);
        bool complete = false;
        try
        {
            using var handle = new SafeFileHandle(fd, ownsHandle: true);
            await using (var file = new FileStream(handle, FileAccess.Write, 1))
            {
                try
                {
                    if (entry.DataStream is { } data) await data.CopyToAsync(file, 1 << 16, ct);
                }
                catch (EndOfStreamException)
                {
                    throw ApiException.BadRequest("Error processing tar file: unexpected EOF");
                }
                // The reader ends a cut entry's data early without an error: the size says whether it is whole.
                if (file.Position != entry.Length) throw ApiException.BadRequest("Error processing tar file: unexpected EOF");
                var owned = new Fd(fd, owns: false);
                SetOwnerAndMode(owned, uid, gid, mode, entry.Name);
                SetTimes(owned, entry.ModificationTime);
            }
            complete = true;
        }
        finally
        {
            // A file the archive ended in the middle of is not left half written.
            if (!complete) Libc.unlinkat(parent.Value, leaf, 0);
        }
    }

    void Link(Fd parent, string leaf, string linkName, string name, List<string> parts)
    {
        var target = ContainerPath.Below(linkName);
        if (target is null || target.Count == 0)
            throw ApiException.BadRequest($"Error processing tar file: invalid hardlink \"{Shown(parts)}\" -> \"{linkName}\"");
        using var targetParent = root.TryOpen([.. destination, .. target[..^1]], followLast: true, Libc.O_PATH | Libc.O_DIRECTORY, out _);
        // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
        if (targetParent is null || Libc.linkat(targetParent.Value, target[^1], parent.Value, leaf, 0) < 0)
            throw ApiException.BadRequest($"Error processing tar file: hardlink \"{name}\" -> \"{linkName}\": {Shown(target)} cannot be linked (it is not in the container, or is a directory)");
    }

    string Shown(List<string> parts) => (_shown == "/" ? "" : _shown) + "/" + string.Join('/', parts);

    static void SetOwnerAndMode(Fd fd, uint uid, uint gid, uint mode, string name)
    {
        // Owner first: chown clears setuid and setgid.
        if (Libc.fchown(fd.Value, uid, gid) < 0) throw Failed("fchown", name);
        if (Libc.fchmod(fd.Value, mode) < 0) throw Failed("fchmod", name);
    }

    static unsafe void SetTimes(Fd fd, DateTimeOffset mtime)
    {
        var times = stackalloc Libc.Timespec[2];
        times[0] = times[1] = Timespec(mtime);
        if (Libc.futimens(fd.Value, times) < 0) throw Failed("futimens", "");
    }

    static unsafe void SetTimes(Fd parent, string leaf, DateTimeOffset mtime, string name)
    {
        var times = stackalloc Libc.Timespec[2];
        times[0] = times[1] = Timespec(mtime);
        if (Libc.utimensat(parent.Value, leaf, times, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw Failed("utimensat", name);
    }

    static Libc.Timespec Timespec(DateTimeOffset time)
    {
        long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0) { sec--; rest += TimeSpan.TicksPerSecond; }
        return new Libc.Timespec { Sec = sec, Nsec = rest * 100 };
    }

    /// <summary>Removes a name and, for a directory, what is under it, from fd to fd without following a symlink.</summary>
    static void RemoveAll(Fd dir, string name)
    {
        var st = ContainerRoot.Lstat(dir, name);
        if (st is null) return;
        if (st.Value.FileType == Libc.S_IFDIR)
        {
            using (var child = Sys.OpenAt(dir, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW))
                foreach (var n in Sys.ReadDirectory(child)) RemoveAll(child, n);
            if (Libc.unlinkat(dir.Value, name, Libc.AT_REMOVEDIR) < 0) throw Failed("rmdir", name);
        }
        else if (Libc.unlinkat(dir.Value, name, 0) < 0) throw Failed("unlinkat", name);
    }

    static ApiException Failed(string call, string name) =>
        new(500, $"Error processing tar file: {new LinuxException(call, Marshal.GetLastSystemError(), $"\"{name}\"").Message}");
}
