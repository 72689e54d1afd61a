using Berth.Api;

namespace Berth.Engine;

/// <summary>A create request that passed validation: its Config merged with the image's, and the warnings for the client.</summary>
public sealed record ValidatedContainer(ContainerConfig Config, HostConfig HostConfig, IReadOnlyList<string> Warnings);

/// <summary>
/// Checks a create request before anything is made: every field Berth cannot honour yet is refused with a 400
/// that names it (never ignored), and values dockerd refuses are refused with dockerd's sentence. It runs at
/// create (the daemon answers the client) and again in <see cref="Populate"/>, so no spec comes from a record
/// that would not pass.
/// </summary>
public static class ContainerValidator
{
    const long MinimumMemory = 6 * 1024 * 1024;

    /// <param name="request">Config as the client sent it.</param>
    /// <param name="image">The image's config, merged in (its Env, Cmd, User, ...).</param>
    /// <param name="hostConfig">HostConfig as the client sent it (null: all defaults).</param>
    /// <param name="networking">NetworkingConfig as the client sent it, if any.</param>
    /// <exception cref="ContainerConfigException">The first field that is refused, named in the message.</exception>
    public static ValidatedContainer Validate(ContainerConfig request, ContainerConfig? image, HostConfig? hostConfig,
        NetworkingConfig? networking, EngineEnvironment environment)
    {
        var host = hostConfig ?? new HostConfig();
        var warnings = new List<string>();
        var config = ConfigMerge.Merge(request, image);
        // Config.Volumes (the request's and the image's VOLUMEs) become anonymous volumes at create: their paths must do as destinations.
        foreach (string volume in config.Volumes?.Keys ?? Enumerable.Empty<string>()) UserMounts.CheckConfigVolume(volume);

        if (host.NetworkMode == "host" && (host.PortBindings?.Values.Any(b => b is { Count: > 0 }) == true || host.PublishAllPorts))
            warnings.Add("Published ports are discarded when using host network mode");

        CheckConfig(config);
        CheckHealthcheck(request.Healthcheck);
        CheckModes(config, host, environment);
        CheckNetworking(networking, host.NetworkMode);
        CheckUnsupported(host);
        CheckRestartPolicy(host);
        CheckResources(host, environment.Host);
        CheckSecurity(host, environment.Host);
        return new ValidatedContainer(config, host, warnings);
    }

    /// <summary>dockerd's checks of a request's HEALTHCHECK: durations of at least 1 ms (0: the default), no negative retries.</summary>
    static void CheckHealthcheck(HealthConfig? health)
    {
        if (health is null) return;
        const long minimum = 1_000_000; // 1 ms in nanoseconds
        if (health.Interval != 0 && health.Interval < minimum) throw new ContainerConfigException("Interval in Healthcheck cannot be less than 1ms");
        if (health.Timeout != 0 && health.Timeout < minimum) throw new ContainerConfigException("Timeout in Healthcheck cannot be less than 1ms");
        if (health.Retries < 0) throw new ContainerConfigException("Retries in Healthcheck cannot be negative");
        if (health.StartPeriod != 0 && health.StartPeriod < minimum) throw new ContainerConfigException("StartPeriod in Healthcheck cannot be less than 1ms");
        if (health.StartInterval != 0 && health.StartInterval < minimum) throw new ContainerConfigException("StartInterval in Healthcheck cannot be less than 1ms");
    }

    static void CheckConfig(ContainerConfig config)
    {
        foreach (var env in config.Env ?? [])
            if (env.Length == 0 || env[0] == '=')
                throw new ContainerConfigException($"invalid environment variable: {env}");
        if (config.WorkingDir.Length > 0 && !config.WorkingDir.StartsWith('/'))
            throw new ContainerConfigException($"the working directory '{config.WorkingDir}' is invalid, it needs to be an absolute path");
        if (config.Hostname.Length > 64)
            throw new ContainerConfigException($"invalid Config.Hostname \"{config.Hostname}\": longer than the kernel's 64 characters");
        if (config.Domainname.Length > 64)
            throw new ContainerConfigException($"invalid Config.Domainname \"{config.Domainname}\": longer than the kernel's 64 characters");
        if (!string.IsNullOrEmpty(config.StopSignal)) Signals.Parse(config.StopSignal);
        if (config.StopTimeout < -1)
            throw new ContainerConfigException($"invalid Config.StopTimeout {config.StopTimeout}: seconds, or -1 to wait without limit");
        if (!string.IsNullOrEmpty(config.MacAddress))
            throw ContainerConfigException.NotSupported("Config.MacAddress", "Berth has no networks with addresses yet");
        if (config.NetworkDisabled == true)
            throw ContainerConfigException.NotSupported("Config.NetworkDisabled", "use HostConfig.NetworkMode none");
    }

    /// <summary>The namespace modes parse, agree with each other, and name containers that exist.</summary>
    static void CheckModes(ContainerConfig config, HostConfig host, EngineEnvironment environment)
    {
        var modes = ParseModes(host, environment.Daemon);
        if (modes.Uts.IsHost && config.Hostname.Length > 0)
            throw new ContainerConfigException("conflicting options: hostname and the UTS mode");
        if (modes.Uts.IsHost && config.Domainname.Length > 0)
            throw new ContainerConfigException("conflicting options: domainname and the UTS mode");
        if (modes.Network.IsContainer && (config.Hostname.Length > 0 || config.Domainname.Length > 0))
            throw new ContainerConfigException("conflicting options: hostname and the network mode");
        foreach (var mode in new[] { modes.Ipc, modes.Pid, modes.Network })
            if (mode.IsContainer && environment.Containers.Find(mode.ContainerReference) is null)
                throw ContainerConfigException.NoSuchContainer(mode.ContainerReference);
        if (host.CgroupnsMode is not ("" or "host" or "private"))
            throw new ContainerConfigException($"invalid cgroup namespace mode: {host.CgroupnsMode}");
        if (host.UsernsMode is not ("" or "host"))
            throw ContainerConfigException.NotSupported($"HostConfig.UsernsMode \"{host.UsernsMode}\"", "user namespaces for containers of berthd");
        if (host.Isolation is not ("" or "default"))
            throw new ContainerConfigException($"Invalid isolation: \"{host.Isolation}\" - linux only supports 'default'");
        foreach (var (key, _) in host.Sysctls ?? [])
            SysctlRules.Check(key, modes.Ipc, modes.Network);
    }

    internal static Modes ParseModes(HostConfig host, DaemonSettings daemon) => new(
        NamespaceMode.Ipc(host.IpcMode), NamespaceMode.Pid(host.PidMode), NamespaceMode.Uts(host.UTSMode),
        NamespaceMode.Network(host.NetworkMode, daemon.BridgeNone));

    /// <summary>
    /// An endpoint only for the network NetworkMode names. On a user-defined network it may ask for aliases and an IPv4
    /// address; nothing else that needs more (links, a MAC, IPv6, driver options), and on the others nothing at all.
    /// </summary>
    /// <exception cref="ContainerConfigException">An endpoint asks for what the network cannot give.</exception>
    public static void CheckNetworking(NetworkingConfig? networking, string networkMode)
    {
        var userNetwork = NamespaceMode.NamesUserNetwork(networkMode);
        foreach (var (name, endpoint) in networking?.EndpointsConfig ?? [])
        {
            var sameNetwork = name == networkMode || (name is "bridge" or "default" && networkMode is "" or "default" or "bridge");
            if (!sameNetwork)
                throw ContainerConfigException.NotSupported($"NetworkingConfig.EndpointsConfig[\"{name}\"]", "connecting to a network other than HostConfig.NetworkMode's");
            if (endpoint is null) continue;
            string? field = endpoint switch
            {
                { IPAMConfig: { IPv6Address.Length: > 0 } or { LinkLocalIPs.Count: > 0 } } => "IPAMConfig",
                { IPAMConfig.IPv4Address.Length: > 0 } when !userNetwork => "IPAMConfig",
                { Aliases.Count: > 0 } when !userNetwork => "Aliases",
                { Links.Count: > 0 } => "Links",
                { MacAddress.Length: > 0 } => "MacAddress",
                { DriverOpts.Count: > 0 } => "DriverOpts",
                _ => null,
            };
            if (field is not null)
                throw ContainerConfigException.NotSupported($"NetworkingConfig.EndpointsConfig[\"{name}\"].{field}",
                    userNetwork ? "Berth's networks take aliases and an IPv4 address only" : "only user-defined networks give containers addresses and aliases");
        }
    }

    /// <summary>Fields of features Berth does not have yet: any value other than "not asked for" is refused.</summary>
    static void CheckUnsupported(HostConfig host)
    {
        static void Refuse(bool asked, string field, string what)
        {
            if (asked) throw ContainerConfigException.NotSupported(field, what);
        }
        Refuse(host.VolumesFrom is { Count: > 0 }, "HostConfig.VolumesFrom", "Berth does not share another container's volumes yet");
        Refuse(host.VolumeDriver.Length > 0, "HostConfig.VolumeDriver", "Berth has no volume plugins");
        // dockerd discards them on the host's network (with a warning); elsewhere only a user-defined network gives the
        // container an address to publish.
        var publishable = NamespaceMode.NamesUserNetwork(host.NetworkMode) || host.NetworkMode == "host";
        const string publishedWhere = "ports are published from user-defined networks only (berthd has no default bridge)";
        Refuse(!publishable && host.PortBindings?.Values.Any(b => b is { Count: > 0 }) == true, "HostConfig.PortBindings", publishedWhere);
        Refuse(!publishable && host.PublishAllPorts, "HostConfig.PublishAllPorts", publishedWhere);
        Refuse(host.Links is { Count: > 0 }, "HostConfig.Links", "Berth has no networks yet");
        Refuse(host.Dns is { Count: > 0 }, "HostConfig.Dns", "the container's resolv.conf comes from the host's");
        Refuse(host.DnsOptions is { Count: > 0 }, "HostConfig.DnsOptions", "the container's resolv.conf comes from the host's");
        Refuse(host.DnsSearch is { Count: > 0 }, "HostConfig.DnsSearch", "the container's resolv.conf comes from the host's");
        Refuse(host.ExtraHosts is { Count: > 0 }, "HostConfig.ExtraHosts", "the container's hosts file has only its defaults");
        Refuse(host.LogConfig.Type is not ("" or "json-file"), $"HostConfig.LogConfig.Type \"{host.LogConfig.Type}\"", "Berth writes json-file logs only");
        Refuse(host.Cgroup.Length > 0, "HostConfig.Cgroup", "sharing another container's cgroup");
        Refuse(host.StorageOpt is { Count: > 0 }, "HostConfig.StorageOpt", "storage options of the snapshotter");
        Refuse(host.Annotations is { Count: > 0 }, "HostConfig.Annotations", "OCI annotations from the API");
        Refuse(host.DeviceRequests is { Count: > 0 }, "HostConfig.DeviceRequests", "Berth has no GPU or other device drivers");
        Refuse(host.KernelMemory != 0, "HostConfig.KernelMemory", "kernel memory limits (the kernel has dropped them)");
        Refuse(host.KernelMemoryTCP != 0, "HostConfig.KernelMemoryTCP", "kernel TCP memory limits");
        Refuse(host.BlkioWeight != 0 || host.BlkioWeightDevice is { Count: > 0 }, "HostConfig.BlkioWeight", "block I/O weights");
        Refuse(new[] { host.BlkioDeviceReadBps, host.BlkioDeviceWriteBps, host.BlkioDeviceReadIOps, host.BlkioDeviceWriteIOps }.Any(l => l is { Count: > 0 }),
            "HostConfig.BlkioDevice{Read,Write}{Bps,IOps}", "block I/O throttling");
        Refuse(host.CpuRealtimePeriod != 0 || host.CpuRealtimeRuntime != 0, "HostConfig.CpuRealtimePeriod/CpuRealtimeRuntime", "real-time CPU scheduling");
        Refuse(host.CpuCount != 0 || host.CpuPercent != 0, "HostConfig.CpuCount/CpuPercent", "these are Windows-only");
        Refuse(host.IOMaximumIOps != 0 || host.IOMaximumBandwidth != 0, "HostConfig.IOMaximumIOps/IOMaximumBandwidth", "these are Windows-only");
    }

    static void CheckRestartPolicy(HostConfig host)
    {
        var policy = host.RestartPolicy;
        if (policy.Name is not ("" or "no" or "always" or "unless-stopped" or "on-failure"))
            throw new ContainerConfigException($"invalid restart policy '{policy.Name}'");
        if (policy.MaximumRetryCount < 0)
            throw new ContainerConfigException("maximum retry count cannot be negative");
        if (policy.MaximumRetryCount > 0 && policy.Name != "on-failure")
            throw new ContainerConfigException($"maximum retry count cannot be used with restart policy '{policy.Name}'");
        if (host.AutoRemove && policy.Name is not ("" or "no"))
            throw new ContainerConfigException("can't create 'AutoRemove' container with restart policy");
    }

    static void CheckResources(HostConfig host, HostFacts facts)
    {
        if (host.Memory < 0) throw new ContainerConfigException($"invalid HostConfig.Memory {host.Memory}: bytes, 0 for no limit");
        if (host.Memory > 0 && host.Memory < MinimumMemory) throw new ContainerConfigException("Minimum memory limit allowed is 6MB");
        if (host.MemorySwap < -1) throw new ContainerConfigException($"invalid HostConfig.MemorySwap {host.MemorySwap}: bytes, or -1 for unlimited swap");
        if (host.MemorySwap > 0 && host.Memory == 0)
            throw new ContainerConfigException("You should always set the Memory limit when using Memoryswap limit, see usage");
        if (host.MemorySwap > 0 && host.MemorySwap < host.Memory)
            throw new ContainerConfigException("Minimum memoryswap limit should be larger than memory limit, see usage");
        if (host.MemoryReservation < 0)
            throw new ContainerConfigException($"invalid HostConfig.MemoryReservation {host.MemoryReservation}: bytes, 0 for none");
        if (host.MemoryReservation > 0 && host.MemoryReservation < MinimumMemory)
            throw new ContainerConfigException("Minimum memory reservation allowed is 6MB");
        if (host.Memory > 0 && host.MemoryReservation > host.Memory)
            throw new ContainerConfigException("Minimum memory limit can not be less than memory reservation limit, see usage");
        if (host.MemorySwappiness is { } swappiness && swappiness != -1 && swappiness is < 0 or > 100)
            throw new ContainerConfigException($"Invalid value: {swappiness}, valid memory swappiness range is 0-100");
        if (host.ShmSize < 0) throw new ContainerConfigException("SHM size can not be less than 0");
        if (host.OomScoreAdj is < -1000 or > 1000)
            throw new ContainerConfigException($"Invalid value {host.OomScoreAdj}, range for oom score adj is [-1000, 1000]");
        if (host.PidsLimit < -1) throw new ContainerConfigException($"invalid HostConfig.PidsLimit {host.PidsLimit}: a number of processes, 0 or -1 for no limit");

        var cpus = CpuList.Parse(facts.OnlineCpus, "online cpus");
        if (host.CpuShares < 0) throw new ContainerConfigException($"invalid HostConfig.CpuShares {host.CpuShares}: a relative weight, 0 for the default");
        if (host.NanoCpus < 0 || host.NanoCpus > cpus.Count * 1_000_000_000L)
            throw new ContainerConfigException($"Range of CPUs is from 0.01 to {cpus.Count}.00, as there are only {cpus.Count} CPUs available");
        if (host.NanoCpus > 0 && host.CpuPeriod > 0)
            throw new ContainerConfigException("Conflicting options: Nano CPUs and CPU Period cannot both be set");
        if (host.NanoCpus > 0 && host.CpuQuota > 0)
            throw new ContainerConfigException("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
        if (host.CpuPeriod != 0 && host.CpuPeriod is < 1000 or > 1000000)
            throw new ContainerConfigException("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
        if (host.CpuQuota != 0 && host.CpuQuota != -1 && host.CpuQuota < 1000)
            throw new ContainerConfigException("CPU cfs quota can not be less than 1ms (i.e. 1000)");
        CheckAvailable(host.CpusetCpus, "cpuset cpus", cpus, facts.OnlineCpus, "CPUs");
        CheckAvailable(host.CpusetMems, "cpuset mems", CpuList.Parse(facts.OnlineMems, "online memory nodes"), facts.OnlineMems, "memory nodes");

        foreach (var ulimit in host.Ulimits ?? []) Ulimits.ToRlimit(ulimit);
        foreach (var device in host.Devices ?? [])
        {
            if (!device.PathOnHost.StartsWith('/'))
                throw new ContainerConfigException($"invalid device \"{device.PathOnHost}\" (HostConfig.Devices): the host path must be absolute");
            if (device.PathInContainer.Length > 0 && !device.PathInContainer.StartsWith('/'))
                throw new ContainerConfigException($"invalid device path in container \"{device.PathInContainer}\" (HostConfig.Devices): it must be absolute");
            if (device.CgroupPermissions.Any(c => c is not ('r' or 'w' or 'm')))
                throw new ContainerConfigException($"invalid device cgroup permissions \"{device.CgroupPermissions}\" for {device.PathOnHost} (HostConfig.Devices): use r, w and m");
        }
        foreach (var rule in host.DeviceCgroupRules ?? []) DeviceCgroupRules.Parse(rule);
    }

    static void CheckAvailable(string requested, string what, SortedSet<int> available, string availableText, string noun)
    {
        var wanted = CpuList.Parse(requested, what);
        if (!wanted.IsSubsetOf(available))
            throw new ContainerConfigException($"Requested {noun} are not available - requested {requested}, available: {availableText}");
    }

    static void CheckSecurity(HostConfig host, HostFacts facts)
    {
        var security = SecurityOptions.Parse(host.SecurityOpt);
        var caps = Capabilities.Tweak(host.CapAdd, host.CapDrop, host.Privileged);
        if (security.SeccompProfileJson is { } json && !host.Privileged)
            DockerSeccomp.Resolve(DockerSeccomp.Parse(json), caps, facts.Architecture, facts.KernelRelease);
        foreach (var (destination, options) in host.Tmpfs ?? [])
        {
            CheckMountPath(destination, "HostConfig.Tmpfs");
            TmpfsOptions.Merge(destination, options);
        }
        // Binds and Mounts: a --mount bind source must exist now, as dockerd checks at create (-v makes its source at start).
        UserMounts.Parse(host, path => File.Exists(path) || Directory.Exists(path), volumesRoot: "/");
        foreach (var path in (host.MaskedPaths ?? []).Concat(host.ReadonlyPaths ?? []))
            if (!path.StartsWith('/'))
                throw new ContainerConfigException($"invalid path \"{path}\" in HostConfig.MaskedPaths or ReadonlyPaths: it must be absolute");
    }

    internal static void CheckMountPath(string destination, string field)
    {
        if (!destination.StartsWith('/'))
            throw new ContainerConfigException($"invalid mount path: '{destination}' mount path must be absolute ({field})");
        if (destination.Trim('/').Length == 0)
            throw new ContainerConfigException($"invalid specification: destination can't be '/' ({field})");
    }

    internal readonly record struct Modes(NamespaceMode Ipc, NamespaceMode Pid, NamespaceMode Uts, NamespaceMode Network);
}
