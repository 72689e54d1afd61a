using System.Formats.Tar;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Engine;
using Berth.Linux;

namespace Berth.Daemon.Containers.Archive;

/// <summary>
/// <c>HEAD|GET|PUT /containers/{id}/archive</c> (docker cp): the stat of a path, a tar of it, a tar extracted into a
/// directory, with dockerd's rules and error texts. Every path is looked up inside the container's root
/// (<see cref="ContainerRoot"/>); the container's lock is held and its rootfs mounted for the length of the call.
/// </summary>
public sealed class ContainerArchive(ContainerService containers)
{
    /// <summary>HEAD: what the path is (a final symlink not followed unless the path ends in "/" or "/.").</summary>
    public async Task<ContainerPathStat> StatAsync(string reference, string? path)
    {
        var wanted = ContainerPath.Parse(path);
        using var lease = await containers.LeaseRootfsAsync(reference);
        using var fd = Open(lease, wanted, reference, statOnly: true);
        return Stat(lease.Root, fd, wanted);
    }

    /// <summary>GET: the stat (handed to <paramref name="begin"/>, which sends the headers and gives the body), then the tar.</summary>
    public async Task GetAsync(string reference, string? path, Func<ContainerPathStat, Stream> begin, CancellationToken ct)
    {
        var wanted = ContainerPath.Parse(path);
        using var lease = await containers.LeaseRootfsAsync(reference);
        using var fd = Open(lease, wanted, reference, statOnly: false);
        var output = begin(Stat(lease.Root, fd, wanted));
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await new ArchiveWriter(tar).WriteAsync(fd, wanted.BaseName, ct);
    }

    /// <summary>PUT: the tar in <paramref name="body"/> extracted into the directory at the path (a final symlink followed).</summary>
    public async Task PutAsync(string reference, string? path, bool noOverwriteDirNonDir, bool copyUidGid, Stream body, CancellationToken ct)
    {
        var wanted = ContainerPath.Parse(path);
        using var lease = await containers.LeaseRootfsAsync(reference);
        lease.RefuseMounts(wanted.Clean, wanted.Requested, statOnly: false);
        List<string> destination;
        using (var fd = lease.Root.TryOpen(wanted.Parts, followLast: true, Libc.O_PATH, out int errno) ?? throw NotOpened(errno, wanted, reference))
        {
            if (Sys.FStat(fd).FileType != Libc.S_IFDIR) throw ApiException.BadRequest("extraction point is not a directory");
            // Where the symlinks led, once: every entry is then looked up from the root below that directory.
            string resolved = lease.Root.PathOf(fd) ?? throw new ApiException(500, $"cannot tell where {wanted.Requested} leads in container {reference}");
            lease.RefuseMounts(resolved, wanted.Requested, statOnly: false);
            destination = [.. resolved.Split('/', StringSplitOptions.RemoveEmptyEntries)];
        }
        if (lease.ReadOnly) throw ApiException.BadRequest("container rootfs is marked read-only");
        (uint, uint)? owner = null;
        // As dockerd: copyUIDGID gives the files the container's user; a container without one keeps the tar's owners.
        if (copyUidGid && lease.User.Length > 0)
        {
            try
            {
                var user = ExecUserResolver.Resolve(lease.User, null, new RootfsUsers(lease.Root.HostPath));
                owner = (user.Uid, user.Gid);
            }
            catch (ContainerConfigException e)
            {
                throw ApiException.BadRequest($"copyUIDGID: {e.Message}");
            }
        }
        await new ArchiveExtractor(lease.Root, destination, new ExtractOptions(noOverwriteDirNonDir, owner)).ExtractAsync(body, ct);
    }

    /// <summary>The path as dockerd's lookups take it: a trailing "/" or "/." follows a last symlink and wants a directory.</summary>
    static Fd Open(RootfsLease lease, ContainerPath wanted, string reference, bool statOnly)
    {
        lease.RefuseMounts(wanted.Clean, wanted.Requested, statOnly);
        int flags = Libc.O_PATH | (wanted.FollowsLast && wanted.Parts.Count > 0 ? Libc.O_DIRECTORY : 0);
        var fd = lease.Root.TryOpen(wanted.Parts, wanted.FollowsLast, flags, out int errno) ?? throw NotOpened(errno, wanted, reference);
        try
        {
            if (lease.MountDestinations.Count > 0)
                lease.RefuseMounts(lease.Root.PathOf(fd) ?? wanted.Clean, wanted.Requested, statOnly);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    static ApiException NotOpened(int errno, ContainerPath wanted, string reference) => errno switch
    {
        Errno.ENOENT => ApiException.NotFound($"Could not find the file {wanted.Requested} in container {reference}"),
        Errno.ENOTDIR => ApiException.BadRequest($"lstat {wanted.Requested}: not a directory"),
        Errno.ELOOP => ApiException.BadRequest($"{wanted.Requested} in container {reference} runs into a symlink loop or a magic link (/proc/*/root, /proc/*/fd)"),
        _ => new ApiException(500, new LinuxException("openat2", errno, $"{wanted.Requested} in container {reference}").Message),
    };

    static ContainerPathStat Stat(ContainerRoot root, Fd fd, ContainerPath wanted)
    {
        var st = Sys.FStat(fd);
        var stat = new ContainerPathStat
        {
            Name = wanted.BaseName,
            Size = st.Size,
            Mode = ContainerPathStat.GoFileMode(st.Mode),
            Mtime = ContainerPathStat.GoTime(st.Mtime, st.MtimeNsec),
        };
        if (st.FileType == Libc.S_IFLNK) stat.LinkTarget = LinkTarget(root, wanted, fd);
        return stat;
    }

    /// <summary>
    /// Where a symlink finally leads, as an absolute path in the container (the docker CLI copies through it with
    /// that path): from the kernel's walk when the target exists, else its text read against the link's directory.
    /// </summary>
    static string LinkTarget(ContainerRoot root, ContainerPath wanted, Fd link)
    {
        using (var followed = root.TryOpen(wanted.Parts, followLast: true, Libc.O_PATH, out _))
            if (followed is not null && root.PathOf(followed) is { } path) return path;
        string text = ContainerRoot.ReadLink(link, "");
        string joined = text.StartsWith('/') ? text : string.Join('/', wanted.Parts.Take(wanted.Parts.Count - 1)) + "/" + text;
        return "/" + string.Join('/', ContainerPath.Below(joined) ?? []);
    }
}
