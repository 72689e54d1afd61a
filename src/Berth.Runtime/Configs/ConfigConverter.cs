using Berth.Cgroups;
using Berth.Oci;
using Berth.Seccomp;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Configs;

/// <summary>
/// Spec → <see cref="ContainerConfig"/>, a pure function (runc's specconv): it validates the spec, then parses
/// every string once (namespace types, mount options, capability and rlimit names) and resolves bundle-relative
/// paths. It touches no file and makes no syscall.
/// </summary>
public static class ConfigConverter
{
    private const uint Mode0666 = 0x1B6;      // octal 0666
    private const uint S_IFMT_BITS = 0xF000;  // octal 0170000: file type bits, not permissions
    /// <summary>
    /// The devices every container gets (runtime-spec config-linux.md "Default Devices"), as runc adds them:
    /// a spec device with the same path replaces the default.
    /// </summary>
    public static readonly IReadOnlyList<DeviceConfig> DefaultDevices =
    [
        new("/dev/null", 'c', 1, 3, Mode0666, 0, 0),
        new("/dev/random", 'c', 1, 8, Mode0666, 0, 0),
        new("/dev/full", 'c', 1, 7, Mode0666, 0, 0),
        new("/dev/tty", 'c', 5, 0, Mode0666, 0, 0),
        new("/dev/zero", 'c', 1, 5, Mode0666, 0, 0),
        new("/dev/urandom", 'c', 1, 9, Mode0666, 0, 0),
    ];

    /// <summary>runc's default propagation of "/" inside the container when the spec names none.</summary>
    public const ulong DefaultRootfsPropagation = MS_SLAVE | MS_REC;

    /// <exception cref="SpecException">The spec breaks a rule; the message lists every JSON path at fault.</exception>
    public static ContainerConfig Convert(Spec spec, string bundleDir)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(bundleDir);
        var bundle = Path.GetFullPath(bundleDir);
        SpecValidator.ValidateOrThrow(spec, Path.Combine(bundle, SpecLoader.ConfigFileName));

        var linux = spec.Linux ?? new Berth.Oci.Linux();
        var namespaces = (linux.Namespaces ?? []).Select(n => new NamespaceConfig(KindOf(n.Type), NullIfEmpty(n.Path))).ToList();

        return new ContainerConfig
        {
            Rootfs = Path.GetFullPath(spec.Root!.Path, bundle),
            ReadonlyRootfs = spec.Root.Readonly,
            Hostname = NullIfEmpty(spec.Hostname),
            Domainname = NullIfEmpty(spec.Domainname),
            Namespaces = namespaces,
            UidMappings = ToIdMaps(linux.UidMappings),
            GidMappings = ToIdMaps(linux.GidMappings),
            Mounts = (spec.Mounts ?? []).Select(m => ToMount(m, bundle)).ToList(),
            RootfsPropagation = string.IsNullOrEmpty(linux.RootfsPropagation)
                ? DefaultRootfsPropagation
                : MountOptions.TryGetPropagation(linux.RootfsPropagation, out var p) ? p : throw new InvalidOperationException("validated"),
            Devices = ToDevices(linux.Devices),
            MaskedPaths = [.. linux.MaskedPaths ?? []],
            ReadonlyPaths = [.. linux.ReadonlyPaths ?? []],
            Sysctl = new Dictionary<string, string>(linux.Sysctl ?? [], StringComparer.Ordinal),
            TimeOffsets = (linux.TimeOffsets ?? []).ToDictionary(kv => kv.Key, kv => new TimeOffset(kv.Value.Secs, kv.Value.Nanosecs), StringComparer.Ordinal),
            CgroupsPath = NullIfEmpty(linux.CgroupsPath),
            Resources = CheckResources(linux.Resources, Path.Combine(bundle, SpecLoader.ConfigFileName)),
            Process = ConvertProcess(spec.Process!),
            Annotations = new Dictionary<string, string>(spec.Annotations ?? [], StringComparer.Ordinal),
            Bundle = bundle,
            Hooks = spec.Hooks,
            Seccomp = linux.Seccomp,
            SeccompFilter = linux.Seccomp is null ? null : CompileSeccomp(linux.Seccomp, Path.Combine(bundle, SpecLoader.ConfigFileName)),
        };
    }

    /// <summary>
    /// Compiled here, so that `create` refuses a bad profile before anything exists; init receives the program in
    /// its request instead of compiling it again (about 2 ms for Docker's profile).
    /// </summary>
    static SeccompFilter? CompileSeccomp(LinuxSeccomp? profile, string configPath)
    {
        if (profile is null) return null;
        try
        {
            return SeccompCompiler.Compile(profile);
        }
        catch (SeccompProfileException e)
        {
            throw new SpecException($"{configPath}: invalid seccomp profile: {e.Message}", [new ValidationError(e.Path, e.Problem)]);
        }
    }

    /// <summary>
    /// Checked here, so that `create` refuses a bad value (with its JSON path) before it claims the id or makes a
    /// cgroup; the cgroup manager applies only checked resources. With the device rules every container gets.
    /// </summary>
    static CheckedResources CheckResources(LinuxResources? resources, string configPath)
    {
        if (CheckedResources.TryCheck(DeviceCgroupRules.WithDefaults(resources), update: false, out var problems) is { } valid)
            return valid;
        var errors = problems.Select(p => new ValidationError("$." + p.Field, p.Problem)).ToList();
        throw new SpecException($"{configPath}: invalid linux.resources: {string.Join("; ", errors)}", errors);
    }

    /// <summary>
    /// The process alone: config.json's, or the one `exec` reads from --process / its flags.
    /// Call <see cref="SpecValidator.ValidateProcess"/> first; unknown names throw <see cref="ArgumentException"/>.
    /// </summary>
    public static ProcessConfig ConvertProcess(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        var caps = process.Capabilities;
        return new ProcessConfig
        {
            Args = [.. process.Args ?? []],
            Env = [.. process.Env ?? []],
            Cwd = process.Cwd,
            Uid = process.User.Uid,
            Gid = process.User.Gid,
            Umask = process.User.Umask,
            AdditionalGids = [.. process.User.AdditionalGids ?? []],
            Capabilities = caps is null
                ? null
                : new CapabilitySet(
                    Capabilities.ToMask(caps.Bounding),
                    Capabilities.ToMask(caps.Effective),
                    Capabilities.ToMask(caps.Inheritable),
                    Capabilities.ToMask(caps.Permitted),
                    Capabilities.ToMask(caps.Ambient)),
            Rlimits = (process.Rlimits ?? []).Select(r => new RlimitConfig(r.Type, Rlimits.ResourceOf(r.Type), r.Soft, r.Hard)).ToList(),
            NoNewPrivileges = process.NoNewPrivileges,
            OomScoreAdj = process.OomScoreAdj,
            Terminal = process.Terminal,
        };
    }

    public static NamespaceKind KindOf(string type) => type switch
    {
        "pid" => NamespaceKind.Pid,
        "network" => NamespaceKind.Network,
        "mount" => NamespaceKind.Mount,
        "ipc" => NamespaceKind.Ipc,
        "uts" => NamespaceKind.Uts,
        "user" => NamespaceKind.User,
        "cgroup" => NamespaceKind.Cgroup,
        "time" => NamespaceKind.Time,
        _ => throw new ArgumentException($"unknown namespace type \"{type}\""),
    };

    private static MountConfig ToMount(Mount m, string bundle)
    {
        var options = MountOptions.Parse(m.Options);
        var flags = options.Flags;
        // A "bind" type means a bind mount even without the option (runc's rootfs code treats it so too).
        if (m.Type == "bind")
            flags |= MS_BIND;
        var isBind = (flags & MS_BIND) != 0;

        var source = m.Source ?? "";
        // Bind sources are host paths: relative ones are relative to the bundle, as runc resolves them.
        if (isBind && !source.StartsWith('/'))
            source = Path.GetFullPath(source, bundle);

        return new MountConfig
        {
            // runc takes a relative destination as relative to "/" (deprecated, but old configs have it).
            Destination = m.Destination.StartsWith('/') ? m.Destination : "/" + m.Destination,
            Type = isBind ? "bind" : m.Type ?? "",
            Source = source,
            Flags = flags,
            ClearFlags = options.ClearFlags,
            Propagation = options.Propagation,
            Data = options.Data,
            RecAttrSet = options.RecAttrSet,
            RecAttrClr = options.RecAttrClr,
            CopyUp = options.CopyUp,
        };
    }

    private static List<DeviceConfig> ToDevices(List<LinuxDevice>? specDevices)
    {
        var devices = DefaultDevices.Where(d => specDevices?.Any(s => s.Path == d.Path) != true).ToList();
        foreach (var d in specDevices ?? [])
        {
            // 'u' (unbuffered char) is a char device to mknod; fileMode defaults to 0666 and loses any S_IFMT bits.
            var type = d.Type == "u" ? 'c' : d.Type[0];
            var mode = d.FileMode is { } fm ? fm & ~S_IFMT_BITS : Mode0666;
            devices.Add(new DeviceConfig(d.Path, type, d.Major, d.Minor, mode, d.Uid ?? 0, d.Gid ?? 0));
        }
        return devices;
    }

    private static List<IdMap> ToIdMaps(List<LinuxIdMapping>? maps) =>
        (maps ?? []).Select(m => new IdMap(m.ContainerId, m.HostId, m.Size)).ToList();

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
