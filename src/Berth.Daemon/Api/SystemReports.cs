using System.Globalization;
using Berth.Api;
using Berth.Cgroups;

namespace Berth.Daemon.Api;

/// <summary>The bodies of GET /version and GET /info, from what the daemon found at start and the host now.</summary>
public static class SystemReports
{
    public static SystemVersion Version(DaemonContext daemon)
    {
        var engine = daemon.Engine;
        var host = daemon.Host;
        var version = new SystemVersion
        {
            Platform = new VersionPlatform { Name = "Berth Engine" },
            Version = engine.Version,
            ApiVersion = ApiVersion.Current.ToString(),
            MinAPIVersion = ApiVersion.Minimum.ToString(),
            GitCommit = engine.GitCommit,
            // Docker's field is the Go toolchain; ours is the .NET runtime the daemon runs on.
            GoVersion = engine.DotnetVersion,
            Os = "linux",
            Arch = host.GoArch,
            KernelVersion = host.KernelVersion,
            BuildTime = engine.BuildTime,
        };
        version.Components.Add(new VersionComponent
        {
            Name = "Engine",
            Version = engine.Version,
            Details = new Dictionary<string, string>
            {
                ["ApiVersion"] = version.ApiVersion,
                ["Arch"] = version.Arch,
                ["BuildTime"] = version.BuildTime,
                ["Experimental"] = "false",
                ["GitCommit"] = version.GitCommit,
                ["GoVersion"] = version.GoVersion,
                ["KernelVersion"] = version.KernelVersion,
                ["MinAPIVersion"] = version.MinAPIVersion,
                ["Os"] = version.Os,
            },
        });
        foreach (var runtime in engine.Runtimes.Where(r => r.Path is not null))
            version.Components.Add(new VersionComponent
            {
                Name = runtime.Name,
                Version = runtime.Version ?? "unknown",
                Details = new Dictionary<string, string> { ["GitCommit"] = runtime.Commit ?? "" },
            });
        return version;
    }

    public static SystemInfo Info(DaemonContext daemon, int images)
    {
        var host = daemon.Host;
        var limits = CgroupLimits.Detect();
        var info = new SystemInfo
        {
            ID = daemon.EngineId,
            Images = images,
            Driver = "overlayfs",
            Plugins = new PluginsInfo { Log = ["json-file"] },
            MemoryLimit = limits.Memory,
            SwapLimit = limits.Swap,
            CpuCfsPeriod = limits.Cpu,
            CpuCfsQuota = limits.Cpu,
            CPUShares = limits.Cpu,
            CPUSet = limits.CpuSet,
            PidsLimit = limits.Pids,
            IPv4Forwarding = ReadFlag("/proc/sys/net/ipv4/ip_forward"),
            BridgeNfIptables = ReadFlag("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            BridgeNfIp6tables = ReadFlag("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
            Debug = daemon.Log.Minimum == Hosting.LogLevel.Debug,
            NFd = CountEntries("/proc/self/fd"),
            NGoroutines = CountEntries("/proc/self/task"),
            SystemTime = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            LoggingDriver = "json-file",
            CgroupDriver = "cgroupfs",
            CgroupVersion = host.CgroupVersion,
            KernelVersion = host.KernelVersion,
            OperatingSystem = host.OperatingSystem,
            OSVersion = host.OsVersion,
            OSType = "linux",
            Architecture = host.Architecture,
            IndexServerAddress = "https://index.docker.io/v1/",
            RegistryConfig = new RegistryConfig
            {
                // Loopback registries speak plain HTTP, as docker allows by default.
                InsecureRegistryCIDRs = ["127.0.0.0/8"],
                IndexConfigs = { ["docker.io"] = new IndexInfo { Name = "docker.io", Secure = true, Official = true } },
            },
            NCPU = host.Cpus,
            MemTotal = host.MemTotal,
            DockerRootDir = daemon.Options.DataRoot,
            Name = host.Hostname,
            ServerVersion = daemon.Engine.Version,
            DefaultRuntime = daemon.Containers?.Drivers.Default ?? Hosting.EngineInfo.DefaultRuntime,
            SecurityOptions = ["name=seccomp,profile=builtin"],
            Warnings = daemon.Warnings.Count > 0 ? [.. daemon.Warnings] : null,
        };
        if (daemon.Containers is { } containers)
        {
            var records = containers.Store.List();
            info.Containers = records.Count;
            info.ContainersPaused = records.Count(r => r.State.Status == "paused");
            info.ContainersRunning = records.Count(r => r.Running) - info.ContainersPaused;
            info.ContainersStopped = records.Count - info.ContainersRunning - info.ContainersPaused;
        }
        if (daemon.Containers?.Drivers is { } drivers)
        {
            // What a container's --runtime may name: the in-process driver (it runs in berth-monitor) and each binary.
            foreach (var name in drivers.Names)
                info.Runtimes[name] = new RuntimeInfo { Path = drivers.PathOf(name) ?? Containers.MonitorRunner.BesideDaemon() };
        }
        else
        {
            foreach (var runtime in daemon.Engine.Runtimes)
                info.Runtimes[runtime.Name] = new RuntimeInfo { Path = runtime.Path ?? runtime.Name };
        }
        return info;
    }

    static bool ReadFlag(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim() == "1";
        }
        catch (IOException)
        {
            return false;
        }
    }

    static int CountEntries(string dir)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries(dir).Count();
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Which resource limits the host's cgroups can enforce (the booleans of /info).</summary>
    sealed record CgroupLimits(bool Memory, bool Swap, bool Cpu, bool CpuSet, bool Pids)
    {
        public static CgroupLimits Detect()
        {
            try
            {
                var host = CgroupHost.Detect();
                if (host.Mode == CgroupMode.V2)
                {
                    string root = host.Unified!.MountPoint;
                    var controllers = File.ReadAllText(Path.Combine(root, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    bool memory = controllers.Contains("memory");
                    return new CgroupLimits(memory, memory, controllers.Contains("cpu"), controllers.Contains("cpuset"), controllers.Contains("pids"));
                }
                var mem = host.V1("memory");
                return new CgroupLimits(
                    mem is not null,
                    mem is not null && File.Exists(Path.Combine(mem.MountPoint, "memory.memsw.limit_in_bytes")),
                    host.V1("cpu") is not null,
                    host.V1("cpuset") is not null,
                    host.V1("pids") is not null);
            }
            catch (Exception e) when (e is IOException or CgroupException or UnauthorizedAccessException)
            {
                return new CgroupLimits(false, false, false, false, false);
            }
        }
    }
}
