using Berth.Oci;
using Berth.Runtime.Configs;
using Berth.Seccomp;

namespace Berth.Runtime;

/// <summary>
/// The features document of this berth-runtime (runtime-spec features.md). Built from the same tables that the
/// code which parses and applies the spec uses, so it cannot claim what the runtime refuses.
/// </summary>
public static class RuntimeFeatures
{
    public static Features Describe() => new()
    {
        OciVersionMin = "1.0.0",
        OciVersionMax = SpecVersion.Current,
        Hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        MountOptions = [.. MountOptions.Known.Order(StringComparer.Ordinal)],
        Linux = new LinuxFeatures
        {
            Namespaces = [.. LinuxNames.NamespaceTypes],
            Capabilities = [.. LinuxNames.Capabilities],
            Cgroup = new CgroupFeatures { V1 = true, V2 = true, Systemd = false, SystemdUser = false, Rdma = true },
            Seccomp = new SeccompFeatures
            {
                Enabled = true,
                Actions = [.. SeccompCompiler.SupportedActions],
                Operators = [.. SeccompCompiler.SupportedOperators],
                Archs = [.. SeccompCompiler.SupportedArchitectures],
                KnownFlags = [.. SeccompCompiler.KnownFlags],
                SupportedFlags = [.. SeccompCompiler.SupportedFlags],
            },
            Apparmor = new EnabledFeature { Enabled = false },
            Selinux = new EnabledFeature { Enabled = false },
            IntelRdt = new EnabledFeature { Enabled = false },
            MountExtensions = new MountExtensionsFeatures { Idmap = new EnabledFeature { Enabled = false } },
        },
    };
}
