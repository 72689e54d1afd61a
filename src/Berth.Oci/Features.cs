namespace Berth.Oci;

// The runtime-spec features document (features.md, features-linux.md): what a runtime supports, as
// `features` prints it for engines such as containerd to read.

public sealed class Features
{
    public required string OciVersionMin { get; init; }
    public required string OciVersionMax { get; init; }
    public List<string>? Hooks { get; init; }
    public List<string>? MountOptions { get; init; }
    public LinuxFeatures? Linux { get; init; }
    public Dictionary<string, string>? Annotations { get; init; }
}

public sealed class LinuxFeatures
{
    public List<string>? Namespaces { get; init; }
    public List<string>? Capabilities { get; init; }
    public CgroupFeatures? Cgroup { get; init; }
    public SeccompFeatures? Seccomp { get; init; }
    public EnabledFeature? Apparmor { get; init; }
    public EnabledFeature? Selinux { get; init; }
    public EnabledFeature? IntelRdt { get; init; }
    public MountExtensionsFeatures? MountExtensions { get; init; }
}

public sealed class CgroupFeatures
{
    public bool V1 { get; init; }
    public bool V2 { get; init; }
    public bool Systemd { get; init; }
    public bool SystemdUser { get; init; }
    public bool Rdma { get; init; }
}

public sealed class SeccompFeatures
{
    public bool Enabled { get; init; }
    public List<string>? Actions { get; init; }
    public List<string>? Operators { get; init; }
    public List<string>? Archs { get; init; }
    public List<string>? KnownFlags { get; init; }
    public List<string>? SupportedFlags { get; init; }
}

public sealed class EnabledFeature
{
    public bool Enabled { get; init; }
}

public sealed class MountExtensionsFeatures
{
    public EnabledFeature? Idmap { get; init; }
}
