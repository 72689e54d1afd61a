using System.Text.Json;
using Berth.Daemon.Api;
using Berth.Linux;

namespace Berth.Daemon.Containers;

/// <summary>
/// The container records under <c>&lt;data-root&gt;/containers</c>: one directory per container with its
/// <c>config.v2.json</c>, replaced atomically (temp, fsync, rename). Names are reserved here, so two creates
/// cannot take one name. Lookups follow dockerd: full id, then name, then a unique id prefix.
/// Records are shared objects; a caller changes one and saves it under the container's own lock.
/// </summary>
public sealed class ContainerStore
{
    const string RecordFile = "config.v2.json";
    readonly object _lock = new();
    readonly Dictionary<string, ContainerRecordFile> _byId = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

    public ContainerStore(string dataRoot, Action<string, string>? warn = null)
    {
        Root = Path.Combine(dataRoot, "containers");
        Directory.CreateDirectory(Root);
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            string file = Path.Combine(dir, RecordFile);
            try
            {
                var record = JsonSerializer.Deserialize(File.ReadAllBytes(file), ContainerJson.Context.ContainerRecordFile)
                    ?? throw new JsonException("null record");
                if (record.Id != Path.GetFileName(dir)) throw new JsonException($"the record's id {record.Id} is not its directory's name");
                _byId[record.Id] = record;
                _names[record.Name] = record.Id;
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                // A create cut short by a crash leaves a directory without a record: nothing refers to it.
                warn?.Invoke(dir, e.Message);
            }
        }
    }

    public string Root { get; }

    public string DirOf(string id) => Path.Combine(Root, id);

    public IReadOnlyList<ContainerRecordFile> List()
    {
        lock (_lock) return [.. _byId.Values.OrderByDescending(r => r.Created, StringComparer.Ordinal)];
    }

    /// <summary>Reserves a name for a new id; 409 when it is taken.</summary>
    public void ReserveName(string name, string id)
    {
        lock (_lock)
        {
            if (_names.TryGetValue(name, out var owner)) throw ContainerNames.Conflict(name, owner);
            _names[name] = id;
        }
    }

    /// <summary>Reserves a generated name for a new id.</summary>
    public string ReserveGeneratedName(string id)
    {
        lock (_lock)
            for (int attempt = 0; ; attempt++)
            {
                string name = "/" + ContainerNames.Generate(attempt);
                if (_names.TryAdd(name, id)) return name;
            }
    }

    public void ReleaseName(string name, string id)
    {
        lock (_lock)
            if (_names.TryGetValue(name, out var owner) && owner == id) _names.Remove(name);
    }

    /// <summary>Writes a new record (its name reserved) and makes it visible.</summary>
    public void Add(ContainerRecordFile record)
    {
        Save(record);
        lock (_lock) _byId[record.Id] = record;
    }

    /// <summary>Replaces the record's file atomically: a crash leaves the old or the new one, never a torn one.</summary>
    public void Save(ContainerRecordFile record)
    {
        string dir = DirOf(record.Id);
        string temp = Path.Combine(dir, RecordFile + ".tmp");
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(record, ContainerJson.Context.ContainerRecordFile);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(dir, RecordFile), overwrite: true);
    }

    /// <summary>Moves a name from one to another; 409 when the new one is taken.</summary>
    public void Rename(ContainerRecordFile record, string newName)
    {
        lock (_lock)
        {
            if (_names.TryGetValue(newName, out var owner)) throw ContainerNames.Conflict(newName, owner);
            string old = record.Name;
            _names.Remove(old);
            _names[newName] = record.Id;
            record.Name = newName;
            try
            {
                Save(record);
            }
            catch
            {
                record.Name = old;
                _names.Remove(newName);
                _names[old] = record.Id;
                throw;
            }
        }
    }

    /// <summary>Forgets the container and deletes its directory (it must hold no mount).</summary>
    public void Remove(ContainerRecordFile record)
    {
        lock (_lock)
        {
            _byId.Remove(record.Id);
            ReleaseName(record.Name, record.Id);
        }
        DeleteDirectory(DirOf(record.Id));
    }

    /// <summary>Deletes a directory tree without following symlinks out of it (the container wrote into rw/upper).</summary>
    public static void DeleteDirectory(string dir)
    {
        if (!Directory.Exists(dir)) return;
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>The container a full id, a name (with or without its slash) or a unique id prefix names; 404 otherwise.</summary>
    public ContainerRecordFile Get(string reference) =>
        Find(reference) ?? throw ContainerNames.NotFound(reference);

    /// <summary>As <see cref="Get"/>, null when nothing matches.</summary>
    public ContainerRecordFile? Find(string reference)
    {
        if (reference.Length == 0) return null;
        lock (_lock)
        {
            if (_byId.TryGetValue(reference, out var byId)) return byId;
            if (_names.TryGetValue(reference.StartsWith('/') ? reference : "/" + reference, out var named) && _byId.TryGetValue(named, out var byName))
                return byName;
            if (!reference.All(char.IsAsciiHexDigitLower)) return null;
            var matches = _byId.Values.Where(r => r.Id.StartsWith(reference, StringComparison.Ordinal)).Take(2).ToList();
            if (matches.Count > 1) throw ApiException.BadRequest($"Multiple IDs found with provided prefix: {reference}");
            return matches.FirstOrDefault();
        }
    }

    /// <summary>The container using an image, if any (a running one first): rmi refuses to remove its image.</summary>
    public ContainerRecordFile? UserOfImage(string imageId)
    {
        lock (_lock)
            return _byId.Values.Where(r => r.Image == imageId).OrderByDescending(r => r.Running).FirstOrDefault();
    }
}
