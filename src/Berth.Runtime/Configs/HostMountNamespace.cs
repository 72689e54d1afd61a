using Berth.Oci;

namespace Berth.Runtime.Configs;

/// <summary>
/// A config without a mount namespace runs in the host's mount table, chrooted into root.path (as runc 1.1.5 runs
/// it). Whatever would mount there (spec mounts, a read-only root, device nodes, the console, a propagation for "/";
/// masked and read-only paths are refused by the spec's validation, as by runc) would change the host's mount table
/// and outlive the container: runc 1.1.5 does make those mounts on the host and leaves them behind; berth-runtime
/// refuses such a config, naming each field.
/// </summary>
public static class HostMountNamespace
{
    /// <summary>The refusals for <paramref name="spec"/>, empty when it has a mount namespace or asks for nothing to mount.</summary>
    public static IReadOnlyList<string> Refusals(Spec spec, ContainerConfig config)
    {
        if (config.Has(NamespaceKind.Mount)) return [];
        var found = new List<string>();
        void Add(bool present, string field, string what)
        {
            if (present) found.Add($"{field}: {what}");
        }
        int mounts = spec.Mounts?.Count ?? 0;
        Add(mounts > 0, "$.mounts", mounts == 1 ? "a mount" : $"{mounts} mounts");
        Add(spec.Root?.Readonly == true, "$.root.readonly", "a read-only root");
        Add(spec.Linux?.Devices is { Count: > 0 }, "$.linux.devices", "device nodes");
        Add(!string.IsNullOrEmpty(spec.Linux?.RootfsPropagation), "$.linux.rootfsPropagation", "a propagation for /");
        Add(spec.Process?.Terminal == true, "$.process.terminal", "a console (bound onto /dev/console)");
        return found;
    }

    /// <exception cref="ContainerException">The config has no mount namespace but asks for something that needs one.</exception>
    public static void Check(Spec spec, ContainerConfig config)
    {
        var refusals = Refusals(spec, config);
        if (refusals.Count > 0)
            throw new ContainerException("linux.namespaces has no mount namespace, so the container would share the host's mount " +
                $"table and these would be made in it: {string.Join("; ", refusals)}; remove them or add a mount namespace");
    }
}
