using System.CommandLine;
using System.Formats.Tar;
using System.IO.Pipelines;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth cp [-a] [-L] SRC DEST</c>: docker cp. One side is <c>CONTAINER:PATH</c>, the other a local path or "-" (a
/// tar on stdin or stdout). Into a container: the destination is stat'ed (HEAD) and the local file or directory sent
/// as a tar (PUT) to it when it is a directory, else to its parent under the destination's name; out of one: the tar
/// (GET) is unpacked into the local directory, or as the local name when that does not exist.
/// </summary>
public static class CpCommand
{
    public static Command Build(CliGlobals globals)
    {
        var source = new Argument<string>("SRC_PATH");
        var destination = new Argument<string>("DEST_PATH");
        var archive = new Option<bool>("--archive", "-a") { Description = "Archive mode (copy all uid/gid information)" };
        var follow = new Option<bool>("--follow-link", "-L") { Description = "Always follow symbol link in SRC_PATH" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress progress output during copy" };
        var command = new Command("cp", "Copy files/folders between a container and the local filesystem") { source, destination, archive, follow, quiet };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var (fromContainer, fromPath) = Split(parse.GetValue(source)!);
            var (toContainer, toPath) = Split(parse.GetValue(destination)!);
            if (fromContainer is not null && toContainer is not null) throw new CopyException("copying between containers is not supported");
            if (fromContainer is null && toContainer is null) throw new CopyException("must specify at least one container source");
            if (fromContainer is not null) return await FromContainerAsync(client, fromContainer, fromPath, toPath, parse.GetValue(follow), token);
            return await ToContainerAsync(client, fromPath, toContainer!, toPath, parse.GetValue(archive), parse.GetValue(follow), token);
        }, ct));
        return command;
    }

    sealed class CopyException(string message) : Exception(message);

    /// <summary>docker's splitCpArg: a path that starts with "/" or "." is local even with a colon in it.</summary>
    static (string? Container, string Path) Split(string arg)
    {
        if (arg.StartsWith('/') || arg.StartsWith('.')) return (null, arg);
        int colon = arg.IndexOf(':');
        return colon <= 0 ? (null, arg) : (arg[..colon], arg[(colon + 1)..]);
    }

    static async Task<int> FromContainerAsync(BerthClient client, string container, string path, string local, bool follow, CancellationToken ct)
    {
        if (follow && await client.StatContainerPathAsync(container, path, ct) is { IsSymlink: true } link) path = link.LinkTarget;
        var (tar, stat) = await client.GetArchiveAsync(container, path, ct);
        await using (tar)
        {
            if (local == "-")
            {
                await using var stdout = Console.OpenStandardOutput();
                await tar.CopyToAsync(stdout, ct);
                return 0;
            }
            string dest = Path.GetFullPath(local);
            if (Directory.Exists(dest))
            {
                await ExtractAsync(tar, dest, rename: null, ct);
                return 0;
            }
            if (local.EndsWith('/')) throw new CopyException($"destination directory \"{local}\" does not exist");
            if (File.Exists(dest) && stat.IsDirectory) throw new CopyException($"cannot copy a directory to the file \"{local}\"");
            string parent = Path.GetDirectoryName(dest)!;
            if (!Directory.Exists(parent)) throw new CopyException($"the parent directory of \"{local}\" does not exist");
            if (stat.Name == ".")
            {
                Directory.CreateDirectory(dest);
                await ExtractAsync(tar, dest, rename: null, ct);
            }
            else await ExtractAsync(tar, parent, rename: (stat.Name, Path.GetFileName(dest)), ct);
            return 0;
        }
    }

    /// <summary>
    /// Unpacks the daemon's tar: names relative, without "..", never below a symlink the same tar made; the top name
    /// replaced when copying under another name. Ownership is the caller's, as docker cp's.
    /// </summary>
    static async Task ExtractAsync(Stream tar, string directory, (string From, string To)? rename, CancellationToken ct)
    {
        var reader = new TarReader(tar);
        var links = new List<string>();
        while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
        {
            string name = entry.Name.TrimEnd('/');
            if (rename is { } r && (name == r.From || name.StartsWith(r.From + "/", StringComparison.Ordinal))) name = r.To + name[r.From.Length..];
            var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToArray();
            if (parts.Length == 0) continue;
            if (name.StartsWith('/') || parts.Contains(".."))
                throw new CopyException($"the archive's entry \"{entry.Name}\" is outside of the destination");
            string relative = string.Join('/', parts);
            if (links.Any(l => relative.StartsWith(l + "/", StringComparison.Ordinal)))
                throw new CopyException($"the archive's entry \"{entry.Name}\" is below a symlink of the same archive");
            string target = Path.Combine(directory, relative);
            try
            {
                await WriteEntryAsync(entry, target, directory, rename, links, relative, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // NativeAOT strips the framework's messages: say what failed in words of our own.
                string why = e switch
                {
                    FileNotFoundException or DirectoryNotFoundException => "a directory on its way does not exist",
                    UnauthorizedAccessException => "permission denied",
                    _ => $"I/O error 0x{e.HResult:x}",
                };
                throw new CopyException($"cannot write \"{target}\": {why}");
            }
        }
    }

    static async Task WriteEntryAsync(TarEntry entry, string target, string directory, (string From, string To)? rename, List<string> links, string relative, CancellationToken ct)
    {
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                Directory.CreateDirectory(target);
                File.SetUnixFileMode(target, entry.Mode);
                break;
            case TarEntryType.SymbolicLink:
                if (IsSymlink(target) || File.Exists(target)) File.Delete(target);
                File.CreateSymbolicLink(target, entry.LinkName);
                links.Add(relative);
                break;
            case TarEntryType.HardLink:
                if (entry.LinkName.StartsWith('/') || entry.LinkName.Split('/').Contains(".."))
                    throw new CopyException($"the archive's hardlink \"{entry.Name}\" points outside of the destination");
                string linked = Path.Combine(directory, rename is { } rr && entry.LinkName.StartsWith(rr.From, StringComparison.Ordinal)
                    ? rr.To + entry.LinkName[rr.From.Length..] : entry.LinkName);
                if (File.Exists(target)) File.Delete(target);
                File.Copy(linked, target);
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                if (Directory.Exists(target)) throw new CopyException($"cannot overwrite the directory \"{target}\" with a file");
                if (IsSymlink(target)) File.Delete(target); // replace a symlink, never write through it
                await using (var file = new FileStream(target, FileMode.Create, FileAccess.Write))
                    if (entry.DataStream is { } data) await data.CopyToAsync(file, ct);
                File.SetUnixFileMode(target, entry.Mode);
                File.SetLastWriteTimeUtc(target, entry.ModificationTime.UtcDateTime);
                break;
            default:
                break; // devices and FIFOs are not made by a client
        }
    }

    static bool IsSymlink(string path) => new FileInfo(path).LinkTarget is not null;

    static async Task<int> ToContainerAsync(BerthClient client, string local, string container, string path, bool copyUidGid, bool follow, CancellationToken ct)
    {
        if (local == "-")
        {
            await using var stdin = Console.OpenStandardInput();
            await client.PutArchiveAsync(container, path, stdin, copyUidGid, ct);
            return 0;
        }
        string source = Path.GetFullPath(local);
        if (follow && IsSymlink(source) && File.ResolveLinkTarget(source, returnFinalTarget: true) is { } resolved) source = resolved.FullName;
        bool isDir = Directory.Exists(source) && !IsSymlink(source);
        if (!isDir && !File.Exists(source) && !IsSymlink(source))
            throw new CopyException($"lstat {source}: no such file or directory");
        bool contents = local.EndsWith("/.", StringComparison.Ordinal) || local == ".";
        string sourceName = Path.GetFileName(source.TrimEnd('/'));

        // Stat'ed without a trailing "/": the daemon refuses "file/" outright, docker's answer is "no such directory" below.
        string trimmed = path.TrimEnd('/');
        var stat = await client.StatContainerPathAsync(container, trimmed.Length == 0 ? "/" : trimmed, ct);
        if (stat is { IsSymlink: true }) stat = await client.StatContainerPathAsync(container, path = stat.LinkTarget, ct);
        string into, entryName;
        if (stat is { IsDirectory: true })
            (into, entryName) = (path, contents ? "." : sourceName);
        else if (stat is not null)
        {
            if (isDir) throw new CopyException("cannot copy directory");
            if (path.EndsWith('/')) throw new CopyException("no such directory");
            (into, entryName) = (Parent(path), Base(path));
        }
        else
        {
            if (path.EndsWith('/')) throw new CopyException("no such directory");
            string parent = Parent(path);
            if (await client.StatContainerPathAsync(container, parent, ct) is not { IsDirectory: true })
                throw new DaemonErrorException(404, $"Could not find the file {parent} in container {container}");
            (into, entryName) = (parent, Base(path));
        }

        var pipe = new Pipe();
        var writing = Task.Run(async () =>
        {
            await using var output = pipe.Writer.AsStream();
            try
            {
                await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
                await WriteTreeAsync(writer, source, isDir ? entryName : entryName, isDir, ct);
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, ct);
        await using (var input = pipe.Reader.AsStream())
            await client.PutArchiveAsync(container, into, input, copyUidGid, ct);
        await writing;
        return 0;
    }

    static async Task WriteTreeAsync(TarWriter writer, string path, string name, bool isDir, CancellationToken ct)
    {
        if (!isDir)
        {
            await writer.WriteEntryAsync(path, name, ct);
            return;
        }
        if (name != ".") await writer.WriteEntryAsync(path, name + "/", ct);
        foreach (var child in Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal))
        {
            string childName = (name == "." ? "" : name + "/") + Path.GetFileName(child);
            bool childIsDir = Directory.Exists(child) && !IsSymlink(child);
            await WriteTreeAsync(writer, child, childName, childIsDir, ct);
        }
    }

    static string Parent(string path)
    {
        string trimmed = path.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        return slash <= 0 ? "/" : trimmed[..slash];
    }

    static string Base(string path)
    {
        string trimmed = path.TrimEnd('/');
        return trimmed[(trimmed.LastIndexOf('/') + 1)..];
    }
}
