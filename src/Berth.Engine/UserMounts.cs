using System.Globalization;
using System.Text.Json;
using Berth.Api;
using Berth.Oci;

namespace Berth.Engine;

/// <summary>
/// One mount the user asked for through HostConfig.Binds (`-v /host:/path[:mode]`) or HostConfig.Mounts (`--mount`),
/// as dockerd 20.10 parses it: a bind of a host path, or a tmpfs. <paramref name="Mode"/> is the -v text after the
/// second colon (inspect echoes it; empty for --mount); <paramref name="TmpfsData"/> the tmpfs's size and mode as mount
/// data; <paramref name="CreateSource"/> makes a missing bind source a directory at start, as -v does (--mount refuses).
/// A named volume is a bind of its data directory (<paramref name="VolumeName"/>; <paramref name="NoCopy"/>: the image's
/// files at the destination are not to be copied into it when it is empty). An <paramref name="Anonymous"/> volume is one
/// the container got a random name for at create (`-v /path`, --mount without source, Config.Volumes, the image's VOLUMEs);
/// its <paramref name="VolumeName"/> is null until then.
/// </summary>
public sealed record UserMount(string Type, string Source, string Destination, bool ReadOnly, string Propagation, bool Recursive,
    string Mode, string? TmpfsData, bool CreateSource, string? VolumeName = null, bool NoCopy = false, bool Anonymous = false)
{
    /// <summary>The OCI spec's mount, with dockerd's options: rbind (bind without recursion), ro, the propagation (none for a volume).</summary>
    public Mount ToSpec() => Type switch
    {
        "tmpfs" => new Mount { Destination = Destination, Type = "tmpfs", Source = "tmpfs", Options = TmpfsOptions.Merge(Destination, TmpfsData) },
        "volume" => new Mount { Destination = Destination, Type = "bind", Source = Source, Options = ["rbind", .. ReadOnly ? ["ro"] : Array.Empty<string>()] },
        _ => new Mount { Destination = Destination, Type = "bind", Source = Source, Options = [Recursive ? "rbind" : "bind", .. ReadOnly ? ["ro"] : Array.Empty<string>(), Propagation] },
    };

    /// <summary>The entry of an inspect's Mounts (dockerd shows a tmpfs without source or propagation, a volume with its name and driver).</summary>
    public MountPoint ToMountPoint() => Type switch
    {
        "tmpfs" => new MountPoint { Type = "tmpfs", Source = "", Destination = Destination, Mode = "", RW = !ReadOnly, Propagation = "" },
        "volume" => new MountPoint { Type = "volume", Name = VolumeName, Source = Source, Destination = Destination, Driver = "local", Mode = Mode, RW = !ReadOnly, Propagation = "" },
        _ => new MountPoint { Type = "bind", Source = Source, Destination = Destination, Mode = Mode, RW = !ReadOnly, Propagation = Propagation },
    };
}

/// <summary>HostConfig.Binds and HostConfig.Mounts → <see cref="UserMount"/>s, with dockerd's checks and error texts.</summary>
public static class UserMounts
{
    static readonly HashSet<string> Propagations = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];
    const string DefaultPropagation = "rprivate";

    /// <summary>
    /// Every user mount of <paramref name="host"/>, sorted by destination. Throws <see cref="ContainerConfigException"/>
    /// for what dockerd refuses and for what Berth does not do yet (shared or slave propagation), never ignoring a field.
    /// <paramref name="pathExists"/> answers --mount's check that a bind source exists; <paramref name="volumesRoot"/> is
    /// where volumes keep their data (&lt;root&gt;/&lt;name&gt;/_data). <paramref name="anonymous"/> (destination → name,
    /// made at create by <see cref="AnonymousDestinations"/>) names the anonymous volumes: those of Binds and Mounts, and
    /// a mount of its own (dockerd's Mode "") for each other destination, one of Config.Volumes.
    /// </summary>
    public static List<UserMount> Parse(HostConfig host, Func<string, bool> pathExists, string volumesRoot,
        IReadOnlyDictionary<string, string>? anonymous = null)
    {
        var mounts = new List<UserMount>();
        foreach (string raw in host.Binds ?? []) mounts.Add(Named(ParseBind(raw, volumesRoot), anonymous, volumesRoot));
        foreach (var spec in host.Mounts ?? []) mounts.Add(Named(ParseMount(spec, pathExists, volumesRoot), anonymous, volumesRoot));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in mounts)
            if (!seen.Add(m.Destination)) throw new ContainerConfigException($"Duplicate mount point: {m.Destination}");
        foreach (string t in host.Tmpfs?.Keys ?? Enumerable.Empty<string>())
            if (seen.Contains(Populate.CleanPath(t))) throw new ContainerConfigException($"Duplicate mount point: {Populate.CleanPath(t)}");
        foreach (var (destination, name) in anonymous ?? new Dictionary<string, string>())
            if (!seen.Contains(destination))
                mounts.Add(new UserMount("volume", Path.Combine(volumesRoot, name, "_data"), destination, ReadOnly: false, "", Recursive: true,
                    Mode: "", TmpfsData: null, CreateSource: false, VolumeName: name, Anonymous: true));
        return [.. mounts.OrderBy(m => m.Destination, StringComparer.Ordinal)];
    }

    /// <summary>An anonymous volume of Binds or Mounts with the name the create gave it.</summary>
    static UserMount Named(UserMount mount, IReadOnlyDictionary<string, string>? anonymous, string volumesRoot) =>
        mount.Anonymous && anonymous?.GetValueOrDefault(mount.Destination) is { } name
            ? mount with { VolumeName = name, Source = Path.Combine(volumesRoot, name, "_data") }
            : mount;

    /// <summary>
    /// The destinations that get a new anonymous volume at create, as dockerd's registerMountPoints and
    /// createContainerOSSpecificSettings choose them: each Binds entry and volume mount without a source, and each of
    /// <paramref name="configVolumes"/> (the request's Config.Volumes merged with the image's) that no bind, volume or
    /// tmpfs of the container covers.
    /// </summary>
    public static List<string> AnonymousDestinations(HostConfig host, IEnumerable<string>? configVolumes)
    {
        var mounts = Parse(host, _ => true, "/");
        var covered = new HashSet<string>(mounts.Select(m => m.Destination), StringComparer.Ordinal);
        foreach (string t in host.Tmpfs?.Keys ?? Enumerable.Empty<string>()) covered.Add(Populate.CleanPath(t));
        var destinations = mounts.Where(m => m.Anonymous).Select(m => m.Destination).ToList();
        foreach (string volume in configVolumes ?? [])
        {
            string destination = CheckConfigVolume(volume);
            if (covered.Add(destination)) destinations.Add(destination);
        }
        return destinations;
    }

    /// <summary>A Config.Volumes key: an absolute path other than "/", cleaned.</summary>
    public static string CheckConfigVolume(string volume)
    {
        CheckDestination(volume, $"invalid volume specification: '{volume}'");
        return Populate.CleanPath(volume);
    }

    /// <summary>The mounts of a record that was validated at create (inspect, ps): none when it no longer parses.</summary>
    public static List<MountPoint> MountPoints(HostConfig host, string volumesRoot, IReadOnlyDictionary<string, string>? anonymous)
    {
        try
        {
            return [.. Parse(host, _ => true, volumesRoot, anonymous).Select(m => m.ToMountPoint())];
        }
        catch (ContainerConfigException)
        {
            return [];
        }
    }

    /// <summary>The names of the volumes a record's mounts use, named and anonymous (none when it no longer parses).</summary>
    public static List<string> VolumeNames(HostConfig host, IReadOnlyDictionary<string, string>? anonymous = null)
    {
        try
        {
            return [.. Parse(host, _ => true, "/", anonymous).Select(m => m.VolumeName).OfType<string>()];
        }
        catch (ContainerConfigException)
        {
            return [];
        }
    }

    /// <summary>`-v SOURCE:DESTINATION[:MODE]` (linuxParser.ParseMountRaw).</summary>
    static UserMount ParseBind(string raw, string volumesRoot)
    {
        string invalid = $"invalid volume specification: '{raw}'";
        var parts = raw.Split(':');
        if (parts.Any(p => p.Length == 0)) throw new ContainerConfigException(invalid);
        string source, destination, mode = "";
        switch (parts.Length)
        {
            case 1:
                // Only a destination: an anonymous volume, with dockerd's "z" as for a named one.
                CheckDestination(parts[0], $"{invalid}: invalid mount config for type \"volume\"");
                return new UserMount("volume", "", Populate.CleanPath(parts[0]), ReadOnly: false, "", Recursive: true, Mode: "z",
                    TmpfsData: null, CreateSource: false, Anonymous: true);
            case 2:
                if (ValidMode(parts[1])) throw new ContainerConfigException(invalid);
                (source, destination) = (parts[0], parts[1]);
                break;
            case 3:
                (source, destination, mode) = (parts[0], parts[1], parts[2]);
                break;
            default:
                throw new ContainerConfigException(invalid);
        }
        if (!ValidMode(mode)) throw new ContainerConfigException($"invalid mode: {mode}");
        var words = mode.Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (!source.StartsWith('/'))
        {
            // A named volume: no propagation of its own, "z" as the mode dockerd shows when none is given.
            CheckDestination(destination, $"{invalid}: invalid mount config for type \"volume\"");
            if (words.Any(Propagations.Contains))
                throw new ContainerConfigException($"{invalid}: invalid mount config for type \"volume\": field BindOptions must not be specified");
            CheckVolumeName(source);
            return new UserMount("volume", Path.Combine(volumesRoot, source, "_data"), Populate.CleanPath(destination), ReadOnly: words.Contains("ro"),
                "", Recursive: true, mode.Length > 0 ? mode : "z", TmpfsData: null, CreateSource: false, VolumeName: source, NoCopy: words.Contains("nocopy"));
        }
        if (words.Contains("nocopy"))
            throw new ContainerConfigException($"{invalid}: invalid mount config for type \"bind\": field VolumeOptions must not be specified");
        CheckDestination(destination, $"{invalid}: invalid mount config for type \"bind\"");
        string propagation = words.FirstOrDefault(Propagations.Contains) ?? DefaultPropagation;
        CheckPropagation(propagation, "HostConfig.Binds", raw);
        return new UserMount("bind", Populate.CleanPath(source), Populate.CleanPath(destination), ReadOnly: words.Contains("ro"),
            propagation, Recursive: true, mode, TmpfsData: null, CreateSource: true);
    }

    /// <summary>
    /// -v's mode: comma-separated words, at most one of each kind (rw/ro, z/Z, a propagation, nocopy, a consistency),
    /// nothing else (linuxValidMountMode). z and Z relabel for SELinux, which this host has not: dockerd then does
    /// nothing with them either. A consistency is for Docker Desktop's file sharing; dockerd on Linux ignores it too.
    /// </summary>
    static bool ValidMode(string mode)
    {
        if (mode.Length == 0) return true;
        int rw = 0, label = 0, propagation = 0, copy = 0, consistency = 0;
        foreach (string word in mode.Split(','))
        {
            if (word is "rw" or "ro") rw++;
            else if (word is "z" or "Z") label++;
            else if (Propagations.Contains(word)) propagation++;
            else if (word == "nocopy") copy++;
            else if (word is "consistent" or "cached" or "delegated") consistency++;
            else return false;
        }
        return rw <= 1 && label <= 1 && propagation <= 1 && copy <= 1 && consistency <= 1;
    }

    /// <summary>One `--mount` (parseMountSpec with the source's existence checked).</summary>
    static UserMount ParseMount(MountSpec mount, Func<string, bool> pathExists, string volumesRoot)
    {
        var spec = (mount.Type, Source: mount.Source ?? "", Target: mount.Target ?? "", mount.ReadOnly, mount.BindOptions, mount.VolumeOptions, mount.TmpfsOptions);
        string invalid = $"invalid mount config for type \"{spec.Type}\"";
        switch (spec.Type)
        {
            case "bind":
            {
                if (spec.Source.Length == 0) throw new ContainerConfigException($"{invalid}: field Source must not be empty");
                if (spec.VolumeOptions is not null) throw new ContainerConfigException($"{invalid}: field VolumeOptions must not be specified");
                if (spec.TmpfsOptions is not null) throw new ContainerConfigException($"{invalid}: field TmpfsOptions must not be specified");
                if (!spec.Source.StartsWith('/')) throw new ContainerConfigException($"{invalid}: invalid mount path: '{spec.Source}' mount path must be absolute");
                CheckDestination(spec.Target, invalid);
                var (propagation, recursive) = BindOptions(spec.BindOptions, invalid);
                CheckPropagation(propagation, "HostConfig.Mounts", $"{spec.Source}:{spec.Target}");
                if (!pathExists(spec.Source)) throw new ContainerConfigException($"{invalid}: bind source path does not exist: {spec.Source}");
                return new UserMount("bind", Populate.CleanPath(spec.Source), Populate.CleanPath(spec.Target), spec.ReadOnly, propagation, recursive,
                    Mode: "", TmpfsData: null, CreateSource: false);
            }
            case "tmpfs":
            {
                if (spec.Source.Length > 0) throw new ContainerConfigException($"{invalid}: field Source must not be specified");
                if (spec.BindOptions is not null) throw new ContainerConfigException($"{invalid}: field BindOptions must not be specified");
                if (spec.VolumeOptions is not null) throw new ContainerConfigException($"{invalid}: field VolumeOptions must not be specified");
                CheckDestination(spec.Target, invalid);
                string data = TmpfsData(spec.TmpfsOptions, spec.ReadOnly, invalid);
                string destination = Populate.CleanPath(spec.Target);
                TmpfsOptions.Merge(destination, data); // refuses what the kernel's tmpfs would not take
                return new UserMount("tmpfs", "", destination, spec.ReadOnly, "", Recursive: false, Mode: "", data, CreateSource: false);
            }
            case "volume":
            {
                if (spec.BindOptions is not null) throw new ContainerConfigException($"{invalid}: field BindOptions must not be specified");
                if (spec.TmpfsOptions is not null) throw new ContainerConfigException($"{invalid}: field TmpfsOptions must not be specified");
                CheckDestination(spec.Target, invalid);
                bool noCopy = VolumeOptions(spec.VolumeOptions);
                if (spec.Source.Length == 0)
                {
                    if (spec.ReadOnly) throw new ContainerConfigException($"{invalid}: must not set ReadOnly mode when using anonymous volumes");
                    return new UserMount("volume", "", Populate.CleanPath(spec.Target), ReadOnly: false, "", Recursive: true, Mode: "z",
                        TmpfsData: null, CreateSource: false, NoCopy: noCopy, Anonymous: true);
                }
                CheckVolumeName(spec.Source);
                return new UserMount("volume", Path.Combine(volumesRoot, spec.Source, "_data"), Populate.CleanPath(spec.Target), spec.ReadOnly, "",
                    Recursive: true, Mode: "z", TmpfsData: null, CreateSource: false, VolumeName: spec.Source, NoCopy: noCopy);
            }
            case "npipe":
                throw new ContainerConfigException($"{invalid}: named pipes are only supported on Windows");
            default:
                throw new ContainerConfigException($"mount type unknown: \"{spec.Type}\"");
        }
    }

    /// <summary>dockerd's rules for a local volume's name, as its sentence; null for a good name (POST /volumes/create
    /// answers the same).</summary>
    public static string? VolumeNameProblem(string name) =>
        name.Length < 2 ? $"create {name}: volume name is too short, names should be at least two alphanumeric characters"
        : !char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')
            ? $"create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" " +
              "are allowed. If you intended to pass a host directory, use absolute path"
        : null;

    static void CheckVolumeName(string name)
    {
        if (VolumeNameProblem(name) is { } problem) throw new ContainerConfigException(problem);
    }

    /// <summary>--mount's volume options: NoCopy is all Berth's local volumes take; a driver or labels for a volume the
    /// mount would create, and driver options, are refused.</summary>
    static bool VolumeOptions(JsonElement? options)
    {
        if (options is not { ValueKind: JsonValueKind.Object } o) return false;
        bool noCopy = false;
        foreach (var p in o.EnumerateObject())
        {
            if (p.Name == "NoCopy" && p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False) noCopy = p.Value.ValueKind == JsonValueKind.True;
            else if (p.Name == "DriverConfig" && p.Value.ValueKind == JsonValueKind.Object && p.Value.EnumerateObject().All(d =>
                (d.Name == "Name" && d.Value.ValueKind == JsonValueKind.String && d.Value.GetString() is "" or "local") ||
                (d.Name == "Options" && (d.Value.ValueKind == JsonValueKind.Null || (d.Value.ValueKind == JsonValueKind.Object && !d.Value.EnumerateObject().Any())))))
                continue;
            else if (p.Name == "Labels" && (p.Value.ValueKind == JsonValueKind.Null || (p.Value.ValueKind == JsonValueKind.Object && !p.Value.EnumerateObject().Any())))
                continue;
            else throw ContainerConfigException.NotSupported("HostConfig.Mounts", $"VolumeOptions.{p.Name} is not something Berth's local volumes do yet");
        }
        return noCopy;
    }

    static void CheckDestination(string destination, string prefix)
    {
        if (destination.Length == 0) throw new ContainerConfigException($"{prefix}: field Target must not be empty");
        if (!destination.StartsWith('/')) throw new ContainerConfigException($"{prefix}: invalid mount path: '{destination}' mount path must be absolute");
        if (destination.Trim('/').Length == 0) throw new ContainerConfigException($"{prefix}: invalid specification: destination can't be '/'");
    }

    /// <summary>
    /// Shared and slave propagation need the source's mount to be shared (or a slave) on the host, which dockerd checks
    /// and turns into the rootfs's propagation; Berth does neither yet, so it refuses them rather than mount privately.
    /// </summary>
    static void CheckPropagation(string propagation, string field, string what)
    {
        if (propagation is not ("private" or "rprivate"))
            throw ContainerConfigException.NotSupported(field, $"{what} asks for {propagation} propagation; Berth binds with private propagation only");
    }

    /// <summary>--mount's bind-propagation and bind-nonrecursive.</summary>
    static (string Propagation, bool Recursive) BindOptions(JsonElement? options, string invalid)
    {
        if (options is not { ValueKind: JsonValueKind.Object } o) return (DefaultPropagation, true);
        string propagation = DefaultPropagation;
        bool recursive = true;
        foreach (var p in o.EnumerateObject())
        {
            switch (p.Name)
            {
                case "Propagation" when p.Value.ValueKind == JsonValueKind.String:
                    string value = p.Value.GetString()!;
                    if (value.Length > 0 && !Propagations.Contains(value)) throw new ContainerConfigException($"{invalid}: invalid propagation mode: {value}");
                    if (value.Length > 0) propagation = value;
                    break;
                case "NonRecursive" when p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    recursive = p.Value.ValueKind == JsonValueKind.False;
                    break;
                case "CreateMountpoint" when p.Value.ValueKind is JsonValueKind.False:
                    break;
                default:
                    throw ContainerConfigException.NotSupported("HostConfig.Mounts", $"BindOptions.{p.Name} is not something Berth does yet");
            }
        }
        return (propagation, recursive);
    }

    /// <summary>--mount's tmpfs-size and tmpfs-mode as mount data (ConvertTmpfsOptions): ro, mode in octal, the size with the
    /// largest of g, m and k that divides it.</summary>
    static string TmpfsData(JsonElement? options, bool readOnly, string invalid)
    {
        var words = new List<string>();
        if (readOnly) words.Add("ro");
        long mode = 0, size = 0;
        if (options is { ValueKind: JsonValueKind.Object } o)
        {
            foreach (var p in o.EnumerateObject())
            {
                if (p.Name == "Mode" && p.Value.TryGetInt64(out long m) && m >= 0) mode = m;
                else if (p.Name == "SizeBytes" && p.Value.TryGetInt64(out long s))
                {
                    if (s < 0) throw new ContainerConfigException($"{invalid}: invalid tmpfs size {s}");
                    size = s;
                }
                else throw ContainerConfigException.NotSupported("HostConfig.Mounts", $"TmpfsOptions.{p.Name} is not something Berth does yet");
            }
        }
        if (mode != 0) words.Add("mode=" + Convert.ToString(mode & 0xfff, 8));
        if (size != 0)
        {
            string suffix = "";
            foreach (var (unit, divisor) in new[] { ("g", 1L << 30), ("m", 1L << 20), ("k", 1L << 10) })
                if (size % divisor == 0) { size /= divisor; suffix = unit; break; }
            words.Add("size=" + size.ToString(CultureInfo.InvariantCulture) + suffix);
        }
        return string.Join(',', words);
    }
}
