using System.Formats.Tar;
using Berth.Linux;
using Microsoft.Win32.SafeHandles;

namespace Berth.Daemon.Containers.Archive;

/// <summary>
/// Streams a tar of what a <see cref="ContainerRoot"/> lookup opened, as dockerd's TarResourceRebase names it: the
/// entries start with the requested base name ("data/", "data/f"; "./f" for "/data/."; "/bin" for "/"). The walk goes
/// from directory fd to directory fd with O_NOFOLLOW, so a container that swaps a directory for a symlink while it
/// runs makes that entry vanish or fail, never leads it outside. Ownership, mode, mtime, symlinks, device numbers are
/// kept; a file with more than one link that was already written becomes a hardlink entry to its first name; sockets
/// are skipped (as dockerd). File data is read as it is sent, never buffered whole.
/// </summary>
public sealed class ArchiveWriter(TarWriter tar)
{
    readonly Dictionary<(ulong Dev, ulong Ino), string> _linked = [];

    /// <summary>Writes <paramref name="opened"/> (an O_PATH fd from <see cref="ContainerRoot.TryOpen"/>) under <paramref name="baseName"/>.</summary>
    public async Task WriteAsync(Fd opened, string baseName, CancellationToken ct)
    {
        var st = Sys.FStat(opened);
        if (st.FileType == Libc.S_IFDIR)
        {
            using var dir = Sys.OpenAt(opened, ".", Libc.O_RDONLY | Libc.O_DIRECTORY);
            string name = baseName == "/" ? "/" : baseName + "/";
            await tar.WriteEntryAsync(Header(TarEntryType.Directory, name, st), ct);
            await WriteChildrenAsync(dir, baseName == "/" ? "/" : name, ct);
            return;
        }
        // A single non-directory: its parent's fd is not needed, the O_PATH fd names it (a symlink through readlink of "").
        await WriteOneAsync(opened, "", baseName, st, ct);
    }

    async Task WriteChildrenAsync(Fd dir, string prefix, CancellationToken ct)
    {
        var names = Sys.ReadDirectory(dir);
        names.Sort(StringComparer.Ordinal);
        foreach (var child in names)
        {
            var st = ContainerRoot.Lstat(dir, child);
            if (st is null) continue; // removed since the listing
            string name = prefix + child;
            if (st.Value.FileType == Libc.S_IFDIR)
            {
                int fd = Libc.openat(dir.Value, child, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd < 0) continue; // swapped for something else since the lstat: skipped, never followed
                using var sub = new Fd(fd);
                var now = Sys.FStat(sub);
                await tar.WriteEntryAsync(Header(TarEntryType.Directory, name + "/", now), ct);
                await WriteChildrenAsync(sub, name + "/", ct);
                continue;
            }
            await WriteOneAsync(dir, child, name, st.Value, ct);
        }
    }

    /// <summary>A non-directory named <paramref name="child"/> in <paramref name="dir"/> ("" for the fd itself).</summary>
    async Task WriteOneAsync(Fd dir, string child, string name, Libc.Stat st, CancellationToken ct)
    {
        switch (st.FileType)
        {
            case Libc.S_IFREG:
                if (st.Nlink > 1)
                {
                    if (_linked.TryGetValue((st.Dev, st.Ino), out var first))
                    {
                        var link = Header(TarEntryType.HardLink, name, st);
                        link.LinkName = first;
                        await tar.WriteEntryAsync(link, ct);
                        return;
                    }
                    _linked[(st.Dev, st.Ino)] = name;
                }
                // O_NOFOLLOW: a symlink swapped in since the lstat is refused; O_NONBLOCK: a FIFO swapped in does not hang us.
                string path = child.Length == 0 ? $"/proc/self/fd/{dir.Value}" : child;
                int flags = Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC | (child.Length == 0 ? 0 : Libc.O_NOFOLLOW);
                int fd = child.Length == 0 ? Libc.open(path, flags, 0) : Libc.openat(dir.Value, path, flags, 0);
                if (fd < 0) return;
                using (var handle = new SafeFileHandle(fd, ownsHandle: true))
                {
                    var opened = Sys.FStat(new Fd(fd, owns: false));
                    if (opened.FileType != Libc.S_IFREG || opened.Ino != st.Ino || opened.Dev != st.Dev) return;
                    var entry = Header(TarEntryType.RegularFile, name, opened);
                    entry.DataStream = new FileSlice(handle, opened.Size);
                    await tar.WriteEntryAsync(entry, ct);
                }
                return;
            case Libc.S_IFLNK:
                var symlink = Header(TarEntryType.SymbolicLink, name, st);
                symlink.LinkName = ContainerRoot.ReadLink(dir, child);
                await tar.WriteEntryAsync(symlink, ct);
                return;
            case Libc.S_IFCHR or Libc.S_IFBLK or Libc.S_IFIFO:
                var type = st.FileType switch
                {
                    Libc.S_IFCHR => TarEntryType.CharacterDevice,
                    Libc.S_IFBLK => TarEntryType.BlockDevice,
                    _ => TarEntryType.Fifo,
                };
                var special = Header(type, name, st);
                if (type != TarEntryType.Fifo)
                {
                    special.DeviceMajor = (int)Libc.major(st.Rdev);
                    special.DeviceMinor = (int)Libc.minor(st.Rdev);
                }
                await tar.WriteEntryAsync(special, ct);
                return;
            default:
                return; // sockets: dockerd skips them too
        }
    }

    static PaxTarEntry Header(TarEntryType type, string name, Libc.Stat st) => new(type, name)
    {
        Uid = (int)st.Uid,
        Gid = (int)st.Gid,
        Mode = (UnixFileMode)(st.Mode & 0xfff),
        ModificationTime = DateTimeOffset.FromUnixTimeSeconds(st.Mtime).AddTicks(st.MtimeNsec / 100),
    };
}

/// <summary>
/// A file's first <c>length</c> bytes as a stream whose length is known before it is read (the tar header needs it):
/// a file that shrinks while it is sent is padded with zeros, one that grows is cut, so the tar stays well formed.
/// </summary>
sealed class FileSlice(SafeFileHandle file, long length) : Stream
{
    long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int want = (int)Math.Min(buffer.Length, length - _position);
        if (want <= 0) return 0;
        int n = RandomAccess.Read(file, buffer[..want], _position);
        if (n == 0) { buffer[..want].Clear(); n = want; } // shrank: zeros up to the announced size
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin)
    {
        long target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => length + offset };
        if (target < 0 || target > length) throw new IOException("seek outside of the file slice");
        return _position = target;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
