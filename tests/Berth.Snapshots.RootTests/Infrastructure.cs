using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Berth.Linux;

namespace Berth.Snapshots.RootTests;

/// <summary>A scratch directory on the real disk (overlay upper dirs and trusted.* xattrs need one); unmounts and removes everything at the end.</summary>
sealed class Scratch : IDisposable
{
    readonly List<string> _mounts = [];

    public Scratch()
    {
        Skip.IfNot(Libc.geteuid() == 0, "needs root: mknod, chown, trusted.* xattrs and overlay mounts");
        Path = Directory.CreateTempSubdirectory("berth-snapshots-test-").FullName;
    }

    public string Path { get; }

    public string Dir(string name) => Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;

    public string Mount(OverlayMount options, string name)
    {
        var target = Dir(name);
        SnapshotStore.Mount(options, target);
        _mounts.Add(target);
        return target;
    }

    /// <summary>
    /// Unmounts, waiting out a transient EBUSY: a process forked elsewhere in the test host holds copies of every
    /// fd until it execs, and one CI run met that. A mount still busy after the bound fails naming its holders.
    /// </summary>
    public void Unmount(string target)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                SnapshotStore.Unmount(target);
                break;
            }
            catch (LinuxException e) when (e.Errno == Errno.EBUSY)
            {
                if (DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"{target} stayed busy for 10 s; held by: {Holders(target)}", e);
                Thread.Sleep(50);
            }
        }
        _mounts.Remove(target);
    }

    /// <summary>The processes whose cwd, root or open fds lie under <paramref name="target"/>, for the error above.</summary>
    static string Holders(string target)
    {
        var found = new List<string>();
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(System.IO.Path.GetFileName(d), out _)))
        {
            try
            {
                var links = new[] { "cwd", "root" }.Select(n => System.IO.Path.Combine(proc, n))
                    .Concat(Directory.EnumerateFileSystemEntries(System.IO.Path.Combine(proc, "fd")));
                foreach (var link in links)
                    if (new FileInfo(link).LinkTarget is { } t && t.StartsWith(target, StringComparison.Ordinal))
                        found.Add($"{link} -> {t} ({File.ReadAllText(System.IO.Path.Combine(proc, "comm")).Trim()})");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the process ended */ }
        }
        return found.Count == 0 ? "no process found" : string.Join("; ", found);
    }

    public void Dispose()
    {
        foreach (var m in Enumerable.Reverse(_mounts)) Libc.umount2(m, Libc.MNT_DETACH);
        var leaked = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(Path)).ToList();
        Assert.Empty(leaked);
        Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Writes layer tars with System.Formats.Tar: fixed mtimes, owners, modes and xattrs.</summary>
sealed class TarBuilder(TarEntryFormat format = TarEntryFormat.Pax)
{
    readonly MemoryStream _ms = new();
    TarWriter? _writer;
    static readonly DateTimeOffset Epoch = new(2024, 3, 1, 12, 0, 0, TimeSpan.Zero);
    int _n;

    TarWriter Writer => _writer ??= new TarWriter(_ms, format, leaveOpen: true);

    TarEntry Entry(TarEntryType type, string name, IDictionary<string, string>? xattrs)
    {
        var pax = xattrs?.ToDictionary(kv => "SCHILY.xattr." + kv.Key, kv => kv.Value);
        TarEntry e = format switch
        {
            TarEntryFormat.Pax => pax is null ? new PaxTarEntry(type, name) : new PaxTarEntry(type, name, pax),
            TarEntryFormat.Gnu => new GnuTarEntry(type, name),
            TarEntryFormat.Ustar => new UstarTarEntry(type, name),
            _ => throw new ArgumentException(format.ToString()),
        };
        if (xattrs is not null && format != TarEntryFormat.Pax) throw new ArgumentException("xattrs need PAX");
        e.ModificationTime = Epoch.AddSeconds(++_n * 37);
        return e;
    }

    TarBuilder Add(TarEntry e, int mode, int uid, int gid)
    {
        e.Mode = (UnixFileMode)mode;
        e.Uid = uid;
        e.Gid = gid;
        Writer.WriteEntry(e);
        return this;
    }

    public TarBuilder Dir(string name, int mode = 0x1ed, int uid = 0, int gid = 0, IDictionary<string, string>? xattrs = null) =>
        Add(Entry(TarEntryType.Directory, name, xattrs), mode, uid, gid);

    public TarBuilder File(string name, string content, int mode = 0x1a4, int uid = 0, int gid = 0, IDictionary<string, string>? xattrs = null)
    {
        var e = Entry(TarEntryType.RegularFile, name, xattrs);
        e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
        return Add(e, mode, uid, gid);
    }

    public TarBuilder Symlink(string name, string target, int uid = 0, int gid = 0)
    {
        var e = Entry(TarEntryType.SymbolicLink, name, null);
        e.LinkName = target;
        return Add(e, 0x1ff, uid, gid);
    }

    public TarBuilder Hardlink(string name, string target)
    {
        var e = Entry(TarEntryType.HardLink, name, null);
        e.LinkName = target;
        return Add(e, 0x1a4, 0, 0);
    }

    public TarBuilder Device(TarEntryType type, string name, int major, int minor, int mode, int uid = 0, int gid = 0)
    {
        var e = (PosixTarEntry)Entry(type, name, null);
        if (type != TarEntryType.Fifo)
        {
            e.DeviceMajor = major;
            e.DeviceMinor = minor;
        }
        return Add(e, mode, uid, gid);
    }

    public byte[] Build()
    {
        Writer.Dispose();
        return _ms.ToArray();
    }
}

/// <summary>A layer as the tests hand it around: its uncompressed tar and a blob (maybe compressed) of it.</summary>
sealed record Layer(byte[] Tar, byte[] Blob, string MediaType)
{
    public string DiffId => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Tar));

    public static Layer Plain(byte[] tar) => new(tar, tar, "application/vnd.oci.image.layer.v1.tar");
    public static Layer Gzip(byte[] tar) => new(tar, Tool.Pipe("gzip", ["-n", "-c"], tar), "application/vnd.oci.image.layer.v1.tar+gzip");
    public static Layer Zstd(byte[] tar) => new(tar, Tool.Pipe("zstd", ["-q", "-c"], tar), "application/vnd.oci.image.layer.v1.tar+zstd");
}

/// <summary>An OCI image layout on disk, written by hand (blobs, config, manifest, index.json) for umoci to read.</summary>
sealed class OciLayout
{
    readonly string _dir;
    readonly JsonArray _manifests = [];

    public OciLayout(string dir)
    {
        _dir = dir;
        Directory.CreateDirectory(System.IO.Path.Combine(dir, "blobs", "sha256"));
        File.WriteAllText(System.IO.Path.Combine(dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        WriteIndex();
    }

    public string Path => _dir;

    JsonObject Blob(byte[] data, string mediaType)
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(data));
        File.WriteAllBytes(System.IO.Path.Combine(_dir, "blobs", "sha256", hex), data);
        return new JsonObject { ["mediaType"] = mediaType, ["digest"] = "sha256:" + hex, ["size"] = data.Length };
    }

    public void AddImage(string tag, IReadOnlyList<Layer> layers)
    {
        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode)l.DiffId)]) },
            ["history"] = new JsonArray([.. layers.Select(_ => (JsonNode)new JsonObject { ["created_by"] = "berth test" })]),
        };
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = Blob(Encoding.UTF8.GetBytes(config.ToJsonString()), "application/vnd.oci.image.config.v1+json"),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)Blob(l.Blob, l.MediaType))]),
        };
        var descriptor = Blob(Encoding.UTF8.GetBytes(manifest.ToJsonString()), "application/vnd.oci.image.manifest.v1+json");
        descriptor["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        _manifests.Add(descriptor);
        WriteIndex();
    }

    void WriteIndex() => File.WriteAllText(System.IO.Path.Combine(_dir, "index.json"),
        new JsonObject { ["schemaVersion"] = 2, ["manifests"] = _manifests.DeepClone() }.ToJsonString());
}

static class Tool
{
    public static byte[] Pipe(string tool, string[] args, byte[] input)
    {
        var psi = new ProcessStartInfo(tool, args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        var err = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(input);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {string.Join(' ', args)} exited {p.ExitCode}: {err.Result}");
        return output.ToArray();
    }

    public static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout.Result;
    }
}

/// <summary>
/// A tree described file by file, lstat-based: type, mode incl. setuid/setgid/sticky, owner, content hash,
/// symlink target, device numbers, hardlink count, xattrs (overlayfs' own trusted.overlay.* left out) and,
/// for non-directories, mtime. Two trees that unpack the same image must describe the same.
/// </summary>
static class TreeDescription
{
    public static SortedDictionary<string, string> Of(string root)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Walk(string dir, string rel)
        {
            foreach (var path in Directory.EnumerateFileSystemEntries(dir))
            {
                var name = rel + "/" + System.IO.Path.GetFileName(path);
                var (desc, isDir) = Describe(path);
                result[name] = desc;
                if (isDir) Walk(path, name);
            }
        }
        Walk(root, "");
        return result;
    }

    public static (string, bool) Describe(string path)
    {
        if (Libc.fstatat(Libc.AT_FDCWD, path, out var st, Libc.AT_SYMLINK_NOFOLLOW) < 0) throw LinuxException.FromLastError("lstat", path);
        var sb = new StringBuilder();
        uint type = st.FileType;
        sb.Append(type switch
        {
            Libc.S_IFDIR => "dir",
            Libc.S_IFREG => "file",
            Libc.S_IFLNK => "symlink",
            Libc.S_IFCHR => "chr",
            Libc.S_IFBLK => "blk",
            Libc.S_IFIFO => "fifo",
            _ => "other",
        });
        sb.Append($" mode={Convert.ToString(st.Mode & 0xfff, 8)} owner={st.Uid}:{st.Gid}");
        if (type == Libc.S_IFREG)
            sb.Append($" size={st.Size} sha256={Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..16]} nlink={st.Nlink}");
        if (type == Libc.S_IFLNK) sb.Append($" -> {new FileInfo(path).LinkTarget}");
        if (type is Libc.S_IFCHR or Libc.S_IFBLK) sb.Append($" dev={Libc.major(st.Rdev)}:{Libc.minor(st.Rdev)}");
        if (type != Libc.S_IFDIR) sb.Append($" mtime={st.Mtime}");
        foreach (var (name, value) in Xattrs.List(path))
            if (!name.StartsWith("trusted.overlay.", StringComparison.Ordinal))
                sb.Append($" xattr:{name}={Convert.ToHexStringLower(value)}");
        return (sb.ToString(), type == Libc.S_IFDIR);
    }

    public static string Diff(SortedDictionary<string, string> expected, SortedDictionary<string, string> actual)
    {
        var lines = new List<string>();
        foreach (var k in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            expected.TryGetValue(k, out var e);
            actual.TryGetValue(k, out var a);
            if (e != a) lines.Add($"{k}:\n  umoci: {e ?? "(missing)"}\n  berth: {a ?? "(missing)"}");
        }
        return string.Join('\n', lines);
    }
}
