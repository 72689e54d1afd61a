using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Engine;
using Berth.ExecDrivers;

namespace Berth.Daemon.Volumes;

/// <summary>What berthd keeps of a volume beside its data (<c>&lt;data-root&gt;/volumes/&lt;name&gt;/volume.json</c>).</summary>
public sealed class VolumeRecord
{
    public string CreatedAt { get; set; } = "";
    public Dictionary<string, string>? Labels { get; set; }
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(VolumeRecord))]
public sealed partial class VolumeJsonContext : JsonSerializerContext;

/// <summary>
/// Named volumes of dockerd's local driver, without options: a directory <c>&lt;data-root&gt;/volumes/&lt;name&gt;/_data</c>
/// that containers bind (Binds <c>name:/path</c>, --mount type=volume), made on first use or by POST /volumes/create,
/// listed, inspected and removed with dockerd's answers and sentences. A volume in use by a container (running or not)
/// is not removed. <paramref name="users"/> gives, per container, the id and the volume names its HostConfig names.
/// </summary>
public sealed class VolumeService(string dataRoot, Func<IEnumerable<(string Id, IReadOnlyList<string> Volumes)>> users)
{
    readonly object _gate = new();
    readonly Dictionary<string, string> _held = new(StringComparer.Ordinal); // volume → the container being created with it
    readonly SemaphoreSlim _copy = new(1, 1); // one copy into a new volume at a time

    /// <summary>Where the volumes live: the root Populate binds volume data from.</summary>
    public string Root { get; } = Path.Combine(dataRoot, "volumes");

    /// <summary>dockerd's checks of a local volume's name, with its sentences (<see cref="UserMounts.VolumeNameProblem"/>).</summary>
    public static void CheckName(string name)
    {
        if (UserMounts.VolumeNameProblem(name) is { } problem) throw ApiException.BadRequest(problem);
    }

    /// <summary>POST /volumes/create: a new volume, or the existing one of that name (as dockerd answers a second create).</summary>
    public Volume Create(VolumeCreateRequest request)
    {
        string name = string.IsNullOrEmpty(request.Name) ? NewName() : request.Name;
        string driver = string.IsNullOrEmpty(request.Driver) ? "local" : request.Driver;
        if (driver != "local")
            throw ApiException.NotFound($"create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found");
        if (request.DriverOpts is { Count: > 0 })
            throw ApiException.BadRequest($"create {name}: driver options are not supported yet: Berth's local volumes are plain directories (no type, device or o)");
        CheckName(name);
        return Describe(name, Ensure(name, request.Labels));
    }

    /// <summary>A name for a volume without one: 64 random hex digits, as dockerd's.</summary>
    public static string NewName() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>The volume's record, made (with its _data directory) when there is none yet. With <paramref name="holder"/>
    /// (a container being created, not saved yet) the volume counts as used by it until <see cref="Release"/>, so that a
    /// prune or rm between the two cannot remove it.</summary>
    public VolumeRecord Ensure(string name, Dictionary<string, string>? labels = null, string? holder = null)
    {
        CheckName(name);
        lock (_gate)
        {
            if (holder is not null) _held[name] = holder;
            if (TryLoad(name) is { } existing) return existing;
            string dir = Path.Combine(Root, name);
            const UnixFileMode traverseOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherExecute;
            Directory.CreateDirectory(Root, traverseOnly);
            Directory.CreateDirectory(dir, traverseOnly);
            Directory.CreateDirectory(Path.Combine(dir, "_data"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var record = new VolumeRecord
            {
                CreatedAt = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                Labels = labels is { Count: > 0 } ? labels : null,
            };
            AtomicFile.Write(Path.Combine(dir, "volume.json"), JsonSerializer.SerializeToUtf8Bytes(record, VolumeJsonContext.Default.VolumeRecord));
            return record;
        }
    }

    /// <summary>The end of <paramref name="holder"/>'s create: its record (or its failure) now says which volumes it uses.</summary>
    public void Release(string holder)
    {
        lock (_gate)
            foreach (string name in _held.Where(h => h.Value == holder).Select(h => h.Key).ToList()) _held.Remove(name);
    }

    /// <summary>The image's files at <paramref name="destination"/> of <paramref name="rootfs"/> into the volume while it is empty
    /// (<see cref="VolumeCopyUp"/>), under the volumes' lock so that two containers starting on one new volume copy once.</summary>
    public async Task CopyUpAsync(string rootfs, string destination, string name, string scratch)
    {
        await _copy.WaitAsync();
        try
        {
            await VolumeCopyUp.CopyIfEmptyAsync(rootfs, destination, DataOf(name), scratch);
        }
        finally
        {
            _copy.Release();
        }
    }

    /// <summary>The bind source of a volume's data.</summary>
    public string DataOf(string name) => Path.Combine(Root, name, "_data");

    public Volume Inspect(string name) =>
        Describe(name, TryLoad(name) ?? throw ApiException.NotFound($"get {name}: no such volume"));

    /// <summary>GET /volumes with dockerd's filters: name (substring), driver, label, dangling.</summary>
    public VolumeListResponse List(ApiFilters filters)
    {
        foreach (string key in filters.Keys)
            if (key is not ("name" or "driver" or "label" or "dangling"))
                throw ApiException.BadRequest($"Invalid filter '{key}'");
        bool? dangling = null;
        foreach (string value in filters.Get("dangling"))
            dangling = value.ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw ApiException.BadRequest($"Invalid filter 'dangling={value}'"),
            };
        var used = UsedNames();
        var volumes = new List<Volume>();
        foreach (string name in Names())
        {
            if (TryLoad(name) is not { } record) continue;
            if (filters.Get("name") is { Count: > 0 } names && !names.Any(n => name.Contains(n, StringComparison.Ordinal))) continue;
            if (filters.Get("driver") is { Count: > 0 } drivers && !drivers.Contains("local")) continue;
            if (!filters.MatchKeyValues("label", record.Labels ?? [])) continue;
            if (dangling is { } d && d == used.ContainsKey(name)) continue;
            volumes.Add(Describe(name, record));
        }
        return new VolumeListResponse { Volumes = volumes };
    }

    /// <summary>DELETE /volumes/{name}: refused while a container names it; force only spares the error of a missing one.</summary>
    public void Remove(string name, bool force)
    {
        lock (_gate)
        {
            if (TryLoad(name) is null)
            {
                if (force) return;
                throw ApiException.NotFound($"get {name}: no such volume");
            }
            if (UsedNames().TryGetValue(name, out var ids))
                throw ApiException.Conflict($"remove {name}: volume is in use - [{string.Join(", ", ids)}]");
            Delete(name);
        }
    }

    /// <summary>POST /volumes/prune at API 1.41: every volume no container names (label filters only).</summary>
    public VolumesPruneReport Prune(ApiFilters filters)
    {
        foreach (string key in filters.Keys)
            if (key is not ("label" or "label!"))
                throw ApiException.BadRequest($"Invalid filter '{key}'");
        var deleted = new List<string>();
        ulong reclaimed = 0;
        lock (_gate)
        {
            var used = UsedNames();
            foreach (string name in Names())
            {
                if (used.ContainsKey(name) || TryLoad(name) is not { } record) continue;
                var labels = record.Labels ?? [];
                if (!filters.MatchKeyValues("label", labels)) continue;
                if (filters.Get("label!") is { Count: > 0 } excluded && excluded.Any(l => ApiFilters.Holds(labels, l))) continue;
                reclaimed += SizeOf(DataOf(name));
                Delete(name);
                deleted.Add(name);
            }
        }
        return new VolumesPruneReport { VolumesDeleted = deleted.Count > 0 ? deleted : null, SpaceReclaimed = reclaimed };
    }

    Volume Describe(string name, VolumeRecord record) => new()
    {
        CreatedAt = record.CreatedAt,
        Labels = record.Labels ?? [],
        Mountpoint = DataOf(name),
        Name = name,
        Options = null,
    };

    /// <summary>Volume name → the ids of the containers that name it.</summary>
    Dictionary<string, List<string>> UsedNames()
    {
        var used = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, id) in _held) used[name] = [id];
        foreach (var (id, volumes) in users())
            foreach (string name in volumes)
            {
                if (!used.TryGetValue(name, out var ids)) used[name] = ids = [];
                if (!ids.Contains(id)) ids.Add(id);
            }
        return used;
    }

    IEnumerable<string> Names() =>
        Directory.Exists(Root) ? Directory.GetDirectories(Root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal) : [];

    VolumeRecord? TryLoad(string name)
    {
        if (UserMounts.VolumeNameProblem(name) is not null) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(Root, name, "volume.json")), VolumeJsonContext.Default.VolumeRecord);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    void Delete(string name)
    {
        string dir = Path.Combine(Root, name);
        // volume.json first: a delete cut short leaves a directory that lists as no volume, not a volume without data.
        File.Delete(Path.Combine(dir, "volume.json"));
        Directory.Delete(dir, recursive: true);
    }

    static ulong SizeOf(string dir)
    {
        ulong total = 0;
        try
        {
            // Symlinks are skipped, not followed: a container's link to a host directory must not count (or be walked).
            var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
            foreach (var file in new DirectoryInfo(dir).EnumerateFiles("*", options))
                total += (ulong)file.Length;
        }
        catch (IOException)
        {
        }
        return total;
    }
}
