using System.Text.Json.Serialization;
using Berth.Oci;
using Berth.Seccomp;

namespace Berth.Runtime.Configs;

// The runtime's validated view of a container (the seed's `configs.Config`). ConfigConverter builds it from an
// OCI Spec by a pure conversion: every string is parsed here once (namespace types, mount options,
// capability and rlimit names), so the code that acts on it never parses or guesses. `create` converts once and
// hands init this config (Init.InitWire over the init channel): what init needs crosses, what only the runtime
// uses ([JsonIgnore] here: the cgroup resources, the profile it compiled, annotations) does not.

public sealed record ContainerConfig
{
    /// <summary>Absolute host path of the root filesystem (bundle-relative paths resolved).</summary>
    public required string Rootfs { get; init; }
    public bool ReadonlyRootfs { get; init; }
    public string? Hostname { get; init; }
    public string? Domainname { get; init; }
    public required IReadOnlyList<NamespaceConfig> Namespaces { get; init; }
    public IReadOnlyList<IdMap> UidMappings { get; init; } = [];
    public IReadOnlyList<IdMap> GidMappings { get; init; } = [];
    public IReadOnlyList<MountConfig> Mounts { get; init; } = [];
    /// <summary>MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) for "/" inside; runc's default is rslave.</summary>
    public ulong RootfsPropagation { get; init; }
    public IReadOnlyList<DeviceConfig> Devices { get; init; } = [];
    public IReadOnlyList<string> MaskedPaths { get; init; } = [];
    public IReadOnlyList<string> ReadonlyPaths { get; init; } = [];
    public IReadOnlyDictionary<string, string> Sysctl { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, TimeOffset> TimeOffsets { get; init; } = new Dictionary<string, TimeOffset>();
    public string? CgroupsPath { get; init; }
    /// <summary>linux.resources, checked, with the default device rules; null only in a config that init received.</summary>
    [JsonIgnore] public Berth.Cgroups.CheckedResources? Resources { get; init; }
    public required ProcessConfig Process { get; init; }
    [JsonIgnore] public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
    /// <summary>Absolute path of the bundle directory the spec came from (state output, relative paths).</summary>
    public string Bundle { get; init; } = "";
    /// <summary>Spec hooks, passed through unchanged.</summary>
    public Hooks? Hooks { get; init; }
    /// <summary>Spec seccomp section, passed through unchanged.</summary>
    [JsonIgnore] public LinuxSeccomp? Seccomp { get; init; }
    /// <summary><see cref="Seccomp"/> compiled to BPF; null when the spec has no linux.seccomp. Crosses to init as
    /// the request's SeccompProgram.</summary>
    [JsonIgnore] public SeccompFilter? SeccompFilter { get; init; }

    public bool Has(NamespaceKind kind) => Namespaces.Any(n => n.Kind == kind);
    public NamespaceConfig? Get(NamespaceKind kind) => Namespaces.FirstOrDefault(n => n.Kind == kind);
}

public enum NamespaceKind { Pid, Network, Ipc, Uts, Mount, Cgroup, User, Time }

/// <summary>A namespace to create (Path null) or to join (Path set, opened and setns'd).</summary>
public sealed record NamespaceConfig(NamespaceKind Kind, string? Path)
{
    [JsonIgnore]
    public int CloneFlag => Kind switch
    {
        NamespaceKind.Mount => 0x00020000,   // CLONE_NEWNS
        NamespaceKind.Cgroup => 0x02000000,
        NamespaceKind.Uts => 0x04000000,
        NamespaceKind.Ipc => 0x08000000,
        NamespaceKind.User => 0x10000000,
        NamespaceKind.Pid => 0x20000000,
        NamespaceKind.Network => 0x40000000,
        NamespaceKind.Time => 0x00000080,
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    /// <summary>The name used in /proc/PID/ns and in the spec ("network" is "net" there).</summary>
    [JsonIgnore]
    public string ProcName => Kind switch
    {
        NamespaceKind.Network => "net",
        NamespaceKind.Mount => "mnt",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

public sealed record IdMap(uint ContainerId, uint HostId, uint Size);

public sealed record TimeOffset(long Secs, uint Nanosecs);

/// <summary>
/// One spec mount, with its options split as the kernel wants them: Flags for mount(2), ClearFlags for the
/// options that undo a flag ("rw", "suid"...), Propagation applied by a second mount call, Data for the fs.
/// </summary>
public sealed record MountConfig
{
    public required string Destination { get; init; }
    public required string Type { get; init; }     // "bind" for bind mounts, else the fs type
    public required string Source { get; init; }   // for binds: absolute host path (bundle-relative resolved)
    public ulong Flags { get; init; }
    public ulong ClearFlags { get; init; }
    public IReadOnlyList<ulong> Propagation { get; init; } = [];
    public string Data { get; init; } = "";
    /// <summary>mount_setattr(2) attributes to set / clear recursively ("rro", "rnosuid"...); 0 when none.</summary>
    public ulong RecAttrSet { get; init; }
    public ulong RecAttrClr { get; init; }
    /// <summary>"tmpcopyup" (tmpfs only): the new tmpfs gets a copy of the covered directory's contents.</summary>
    public bool CopyUp { get; init; }
    [JsonIgnore] public bool IsBind => (Flags & Berth.Linux.Libc.MS_BIND) != 0;
    [JsonIgnore] public bool Recursive => (Flags & Berth.Linux.Libc.MS_REC) != 0;
}

public sealed record DeviceConfig(string Path, char Type, long Major, long Minor, uint FileMode, uint Uid, uint Gid);

public sealed record ProcessConfig
{
    public required IReadOnlyList<string> Args { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public required string Cwd { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint? Umask { get; init; }
    public IReadOnlyList<uint> AdditionalGids { get; init; } = [];
    public CapabilitySet? Capabilities { get; init; }
    public IReadOnlyList<RlimitConfig> Rlimits { get; init; } = [];
    public bool NoNewPrivileges { get; init; }
    public int? OomScoreAdj { get; init; }
    public bool Terminal { get; init; }
}

/// <summary>Capability sets as bit masks (bit N = capability N).</summary>
public sealed record CapabilitySet(ulong Bounding, ulong Effective, ulong Inheritable, ulong Permitted, ulong Ambient);

/// <summary>Resource is the RLIMIT_* number.</summary>
public sealed record RlimitConfig(string Name, int Resource, ulong Soft, ulong Hard);
