using System.CommandLine;
using System.Globalization;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// The flags of <c>run</c> and <c>create</c> (docker's names and meanings) and the create body they make. Docker flags
/// berth does not implement yet are declared too, so that using one is refused with a sentence, never ignored.
/// </summary>
public sealed class ContainerFlags
{
    public readonly Option<bool> Interactive = new("--interactive", "-i") { Description = "Keep STDIN open even if not attached" };
    public readonly Option<bool> Tty = new("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
    public readonly Option<string?> Name = new("--name") { Description = "Assign a name to the container" };
    public readonly Option<string[]> Env = new("--env", "-e") { Description = "Set environment variables" };
    public readonly Option<string[]> EnvFile = new("--env-file") { Description = "Read in a file of environment variables" };
    public readonly Option<string?> Entrypoint = new("--entrypoint") { Description = "Overwrite the default ENTRYPOINT of the image" };
    public readonly Option<string?> Workdir = new("--workdir", "-w") { Description = "Working directory inside the container" };
    public readonly Option<string?> User = new("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
    public readonly Option<string?> Restart = new("--restart") { Description = "Restart policy to apply when a container exits (default \"no\")" };
    public readonly Option<bool> Init = new("--init") { Description = "Run an init inside the container that forwards signals and reaps processes" };
    public readonly Option<string?> Network = new("--network", "--net") { Description = "Connect a container to a network" };
    public readonly Option<string[]> Publish = new("--publish", "-p") { Description = "Publish a container's port(s) to the host" };
    public readonly Option<bool> PublishAll = new("--publish-all", "-P") { Description = "Publish all exposed ports to random ports" };
    public readonly Option<string[]> Expose = new("--expose") { Description = "Expose a port or a range of ports" };
    public readonly Option<string?> Ip = new("--ip") { Description = "IPv4 address (e.g., 172.30.100.104)" };
    public readonly Option<string[]> NetworkAlias = new("--network-alias") { Description = "Add network-scoped alias for the container" };
    public readonly Option<string?> Domainname = new("--domainname") { Description = "Container NIS domain name" };
    public readonly Option<bool> Privileged = new("--privileged") { Description = "Give extended privileges to this container" };
    public readonly Option<string[]> CapAdd = new("--cap-add") { Description = "Add Linux capabilities" };
    public readonly Option<string[]> CapDrop = new("--cap-drop") { Description = "Drop Linux capabilities" };
    public readonly Option<string[]> SecurityOpt = new("--security-opt") { Description = "Security Options" };
    public readonly Option<bool> ReadOnly = new("--read-only") { Description = "Mount the container's root filesystem as read only" };
    public readonly Option<string[]> Tmpfs = new("--tmpfs") { Description = "Mount a tmpfs directory" };
    public readonly Option<string[]> Volume = new("--volume", "-v") { Description = "Bind mount a volume" };
    public readonly Option<string[]> Mount = new("--mount") { Description = "Attach a filesystem mount to the container" };
    public readonly Option<string[]> Ulimit = new("--ulimit") { Description = "Ulimit options" };
    public readonly Option<long?> PidsLimit = new("--pids-limit") { Description = "Tune container pids limit (set -1 for unlimited)" };
    public readonly Option<string?> Memory = new("--memory", "-m") { Description = "Memory limit" };
    public readonly Option<string?> MemorySwap = new("--memory-swap") { Description = "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" };
    public readonly Option<string?> Cpus = new("--cpus") { Description = "Number of CPUs" };
    public readonly Option<long> CpuShares = new("--cpu-shares", "-c") { Description = "CPU shares (relative weight)" };
    public readonly Option<string?> CpusetCpus = new("--cpuset-cpus") { Description = "CPUs in which to allow execution (0-3, 0,1)" };
    public readonly Option<string[]> Device = new("--device") { Description = "Add a host device to the container" };
    public readonly Option<string[]> Sysctl = new("--sysctl") { Description = "Sysctl options" };
    public readonly Option<string?> Ipc = new("--ipc") { Description = "IPC mode to use" };
    public readonly Option<string?> Pid = new("--pid") { Description = "PID namespace to use" };
    public readonly Option<string?> Uts = new("--uts") { Description = "UTS namespace to use" };
    public readonly Option<string[]> Label = new("--label", "-l") { Description = "Set meta data on a container" };
    public readonly Option<string?> HealthCmd = new("--health-cmd") { Description = "Command to run to check health" };
    public readonly Option<string?> HealthInterval = new("--health-interval") { Description = "Time between running the check (ms|s|m|h) (default 0s)" };
    public readonly Option<int> HealthRetries = new("--health-retries") { Description = "Consecutive failures needed to report unhealthy" };
    public readonly Option<string?> HealthTimeout = new("--health-timeout") { Description = "Maximum time to allow one check to run (ms|s|m|h) (default 0s)" };
    public readonly Option<string?> HealthStartPeriod = new("--health-start-period") { Description = "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)" };
    public readonly Option<bool> NoHealthcheck = new("--no-healthcheck") { Description = "Disable any container-specified HEALTHCHECK" };
    public readonly Option<string?> StopSignal = new("--stop-signal") { Description = "Signal to stop the container" };
    public readonly Option<int?> StopTimeout = new("--stop-timeout") { Description = "Timeout (in seconds) to stop a container" };
    public readonly Option<string?> Hostname = new("--hostname", "-h") { Description = "Container host name" };
    public readonly Option<string?> Runtime = new("--runtime") { Description = "Runtime to use for this container" };
    public readonly Option<string[]> LogOpt = new("--log-opt") { Description = "Log driver options" };
    public readonly Option<string?> LogDriver = new("--log-driver") { Description = "Logging driver for the container" };
    public readonly Argument<string> Image = new("IMAGE");
    public readonly Argument<string[]> Command = new("COMMAND") { Arity = ArgumentArity.ZeroOrMore };

    /// <summary>docker's flags that take a value and that berth does not implement yet.</summary>
    static readonly string[][] RefusedWithValue =
    [
        ["--add-host"], ["--dns"], ["--dns-option"], ["--dns-search"],
        ["--link"], ["--volumes-from"], ["--gpus"], ["--platform"], ["--pull"], ["--cidfile"], ["--mac-address"], ["--ip6"],
        ["--group-add"], ["--blkio-weight"], ["--blkio-weight-device"], ["--oom-score-adj"], ["--shm-size"], ["--cgroupns"],
        ["--cgroup-parent"], ["--userns"], ["--detach-keys"], ["--attach", "-a"], ["--isolation"], ["--kernel-memory"],
        ["--memory-reservation"], ["--memory-swappiness"], ["--cpu-period"], ["--cpu-quota"], ["--cpuset-mems"], ["--cpu-rt-period"],
        ["--cpu-rt-runtime"], ["--device-cgroup-rule"], ["--label-file"], ["--storage-opt"],
        ["--volume-driver"], ["--health-start-interval"], ["--link-local-ip"], ["--device-read-bps"], ["--device-write-bps"],
        ["--device-read-iops"], ["--device-write-iops"], ["--annotation"],
    ];

    /// <summary>docker's switches berth does not implement yet.</summary>
    static readonly string[][] RefusedSwitches = [["--oom-kill-disable"], ["--disable-content-trust"], ["--quiet", "-q"]];

    readonly List<Option> _refused = [];

    public void AddTo(Command command)
    {
        foreach (var option in new Option[]
        {
            Interactive, Tty, Name, Env, EnvFile, Entrypoint, Workdir, User, Restart, Init, Network, Publish, PublishAll, Expose, Ip,
            NetworkAlias, Domainname, Privileged, CapAdd, CapDrop, SecurityOpt,
            ReadOnly, Tmpfs, Volume, Mount, Ulimit, PidsLimit, Memory, MemorySwap, Cpus, CpuShares, CpusetCpus, Device, Sysctl, Ipc, Pid, Uts, Label,
            HealthCmd, HealthInterval, HealthRetries, HealthTimeout, HealthStartPeriod, NoHealthcheck, StopSignal, StopTimeout, Hostname,
            Runtime, LogOpt, LogDriver,
        })
            command.Options.Add(option);
        foreach (var names in RefusedWithValue)
        {
            var option = new Option<string[]>(names[0], names[1..]) { Hidden = true };
            _refused.Add(option);
            command.Options.Add(option);
        }
        foreach (var names in RefusedSwitches)
        {
            var option = new Option<bool>(names[0], names[1..]) { Hidden = true };
            _refused.Add(option);
            command.Options.Add(option);
        }
        command.Arguments.Add(Image);
        command.Arguments.Add(Command);
    }

    /// <summary>The first docker flag given that berth does not implement, as a sentence; null when none.</summary>
    public string? Refusal(ParseResult parse, string verb)
    {
        foreach (var option in _refused)
        {
            var result = parse.GetResult(option);
            if (result is not null && !result.Implicit)
                return $"berth {verb}: the flag {option.Name} is not supported yet";
        }
        return null;
    }

    /// <summary>The create body docker's CLI would send for these flags (attach flags set by the caller).</summary>
    /// <exception cref="FormatException">A flag value that does not parse; the message names it.</exception>
    public ContainerCreateRequest Build(ParseResult parse)
    {
        var request = new ContainerCreateRequest
        {
            Image = parse.GetValue(Image)!,
            Cmd = parse.GetValue(Command) is { Length: > 0 } cmd ? [.. cmd] : null,
            Tty = parse.GetValue(Tty),
            OpenStdin = parse.GetValue(Interactive),
            Hostname = parse.GetValue(Hostname) ?? "",
            Domainname = parse.GetValue(Domainname) ?? "",
            User = parse.GetValue(User) ?? "",
            WorkingDir = parse.GetValue(Workdir) ?? "",
            Env = Environment(parse),
            Labels = Labels(parse),
            Volumes = [],
            StopSignal = parse.GetValue(StopSignal),
            StopTimeout = parse.GetValue(StopTimeout),
            Healthcheck = Health(parse),
        };
        if (parse.GetValue(Entrypoint) is { } entrypoint) request.Entrypoint = [entrypoint];
        var ports = PortFlags.Parse(parse.GetValue(Publish) ?? [], parse.GetValue(Expose) ?? []);
        request.ExposedPorts = ports.Exposed.Count > 0 ? ports.Exposed : null;
        var host = new HostConfig
        {
            NetworkMode = parse.GetValue(Network) ?? "default",
            PortBindings = ports.Bindings,
            PublishAllPorts = parse.GetValue(PublishAll),
            RestartPolicy = RestartPolicyOf(parse.GetValue(Restart)),
            Privileged = parse.GetValue(Privileged),
            CapAdd = NullIfEmpty(parse.GetValue(CapAdd)),
            CapDrop = NullIfEmpty(parse.GetValue(CapDrop)),
            SecurityOpt = NullIfEmpty(parse.GetValue(SecurityOpt)),
            ReadonlyRootfs = parse.GetValue(ReadOnly),
            IpcMode = parse.GetValue(Ipc) ?? "",
            PidMode = parse.GetValue(Pid) ?? "",
            UTSMode = parse.GetValue(Uts) ?? "",
            CpuShares = parse.GetValue(CpuShares),
            CpusetCpus = parse.GetValue(CpusetCpus) ?? "",
            PidsLimit = parse.GetValue(PidsLimit),
            Runtime = parse.GetValue(Runtime),
            LogConfig = new LogConfig { Type = parse.GetValue(LogDriver) ?? "", Config = LogOptions(parse) },
            Init = parse.GetValue(Init) ? true : null,
            ConsoleSize = [0, 0],
        };
        if (parse.GetValue(Memory) is { } memory) host.Memory = FlagValues.Bytes("--memory", memory);
        if (parse.GetValue(MemorySwap) is { } swap) host.MemorySwap = swap == "-1" ? -1 : FlagValues.Bytes("--memory-swap", swap);
        if (parse.GetValue(Cpus) is { } cpus)
        {
            if (!decimal.TryParse(cpus, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal n) || n < 0)
                throw new FormatException($"invalid argument \"{cpus}\" for \"--cpus\" flag: failed to parse {cpus} as a rational number");
            host.NanoCpus = (long)(n * 1_000_000_000m);
        }
        var tmpfs = parse.GetValue(Tmpfs) ?? [];
        if (tmpfs.Length > 0)
        {
            host.Tmpfs = [];
            foreach (string item in tmpfs)
            {
                int colon = item.IndexOf(':');
                host.Tmpfs[colon < 0 ? item : item[..colon]] = colon < 0 ? "" : item[(colon + 1)..];
            }
        }
        // As docker's CLI: a -v with a source (a host path, or a volume's name) is a bind; a lone path is an anonymous
        // volume, in Config.Volumes (which berthd refuses for now, as it refuses named volumes).
        foreach (string volume in parse.GetValue(Volume) ?? [])
        {
            if (volume.Length == 0) throw new FormatException("invalid argument \"\" for \"-v, --volume\" flag: invalid empty volume spec");
            if (volume.Contains(':')) (host.Binds ??= []).Add(volume);
            else request.Volumes![volume] = new EmptyObject();
        }
        if (parse.GetValue(Mount) is { Length: > 0 } mounts) host.Mounts = [.. mounts.Select(MountFlag.Parse)];
        var ulimits = parse.GetValue(Ulimit) ?? [];
        if (ulimits.Length > 0) host.Ulimits = [.. ulimits.Select(UlimitOf)];
        var devices = parse.GetValue(Device) ?? [];
        if (devices.Length > 0) host.Devices = [.. devices.Select(DeviceOf)];
        var sysctls = parse.GetValue(Sysctl) ?? [];
        if (sysctls.Length > 0) host.Sysctls = sysctls.Select(s => FlagValues.Pair("--sysctl", s)).ToDictionary(p => p.Key, p => p.Value);
        request.HostConfig = host;
        request.NetworkingConfig = new NetworkingConfig
        {
            EndpointsConfig = PortFlags.Endpoints(parse.GetValue(Network), parse.GetValue(Ip), parse.GetValue(NetworkAlias) ?? []),
        };
        return request;
    }

    static List<string>? NullIfEmpty(string[]? values) => values is { Length: > 0 } ? [.. values] : null;

    List<string>? Environment(ParseResult parse)
    {
        List<string> env = [];
        foreach (string file in parse.GetValue(EnvFile) ?? [])
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new FormatException($"open {file}: cannot read the --env-file ({(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : "permission denied")})");
            }
            foreach (string line in lines)
            {
                string trimmed = line.TrimStart();
                if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
                AddVariable(env, trimmed);
            }
        }
        foreach (string item in parse.GetValue(Env) ?? []) AddVariable(env, item);
        return env.Count > 0 ? env : null;
    }

    /// <summary>KEY=VALUE as given; KEY alone takes the client's own value, and is dropped when the client has none (docker's rule).</summary>
    static void AddVariable(List<string> env, string item)
    {
        if (item.StartsWith('=')) throw new FormatException($"invalid environment variable: {item}");
        if (item.Contains('=')) env.Add(item);
        else if (System.Environment.GetEnvironmentVariable(item) is { } value) env.Add(item + "=" + value);
    }

    Dictionary<string, string> Labels(ParseResult parse) =>
        (parse.GetValue(Label) ?? []).Select(l => FlagValues.Pair("--label", l, valueOptional: true))
            .GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    Dictionary<string, string> LogOptions(ParseResult parse) =>
        (parse.GetValue(LogOpt) ?? []).Select(l => FlagValues.Pair("--log-opt", l)).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    HealthConfig? Health(ParseResult parse)
    {
        bool none = parse.GetValue(NoHealthcheck);
        string? cmd = parse.GetValue(HealthCmd);
        string? interval = parse.GetValue(HealthInterval), timeout = parse.GetValue(HealthTimeout), start = parse.GetValue(HealthStartPeriod);
        int retries = parse.GetValue(HealthRetries);
        bool any = cmd is not null || interval is not null || timeout is not null || start is not null || retries != 0;
        if (none)
        {
            if (any) throw new FormatException("--no-healthcheck conflicts with --health-* options");
            return new HealthConfig { Test = ["NONE"] };
        }
        if (!any) return null;
        if (retries < 0) throw new FormatException("--health-retries cannot be negative");
        var health = new HealthConfig
        {
            Test = cmd is null ? null : ["CMD-SHELL", cmd],
            Interval = interval is null ? 0 : FlagValues.Duration("--health-interval", interval),
            Timeout = timeout is null ? 0 : FlagValues.Duration("--health-timeout", timeout),
            StartPeriod = start is null ? 0 : FlagValues.Duration("--health-start-period", start),
            Retries = retries,
        };
        if (health.Interval < 0) throw new FormatException("--health-interval cannot be negative");
        if (health.Timeout < 0) throw new FormatException("--health-timeout cannot be negative");
        if (health.StartPeriod < 0) throw new FormatException("--health-start-period cannot be negative");
        return health;
    }

    /// <param name="knownNamesOnly">false: an unknown name is left for the daemon to refuse (docker update does so).</param>
    internal static RestartPolicy RestartPolicyOf(string? value, bool knownNamesOnly = true)
    {
        if (string.IsNullOrEmpty(value)) return new RestartPolicy { Name = "no" };
        string[] parts = value.Split(':', 2);
        var policy = new RestartPolicy { Name = parts[0] };
        if (knownNamesOnly && parts[0] is not ("no" or "always" or "unless-stopped" or "on-failure"))
            throw new FormatException($"invalid restart policy: {value}: expected no, always, unless-stopped or on-failure[:max-retries]");
        if (parts.Length == 2)
        {
            if (parts[0] != "on-failure") throw new FormatException($"invalid restart policy: {value}: only on-failure takes a maximum retry count");
            if (!int.TryParse(parts[1], out int n) || n < 0) throw new FormatException($"invalid restart policy: {value}: the maximum retry count must be a non-negative integer");
            policy.MaximumRetryCount = n;
        }
        return policy;
    }

    static Ulimit UlimitOf(string value)
    {
        var (name, limits) = FlagValues.Pair("--ulimit", value);
        string[] parts = limits.Split(':');
        if (parts.Length > 2 || !long.TryParse(parts[0], out long soft) || (parts.Length == 2 ? !long.TryParse(parts[1], out long hard) : !long.TryParse(parts[0], out hard)))
            throw new FormatException($"invalid argument \"{value}\" for \"--ulimit\" flag: expected NAME=SOFT[:HARD] with integers");
        if (soft > hard && hard != -1) throw new FormatException($"invalid argument \"{value}\" for \"--ulimit\" flag: soft limit {soft} is greater than hard limit {hard}");
        return new Ulimit { Name = name, Soft = soft, Hard = hard };
    }

    static DeviceMapping DeviceOf(string value)
    {
        string[] parts = value.Split(':');
        if (parts.Length > 3 || parts[0].Length == 0) throw new FormatException($"invalid argument \"{value}\" for \"--device\" flag: expected HOST[:CONTAINER[:rwm]]");
        string permissions = "rwm", target = parts[0];
        if (parts.Length == 2)
        {
            if (parts[1].Length > 0 && parts[1].All(c => "rwm".Contains(c))) permissions = parts[1];
            else target = parts[1];
        }
        else if (parts.Length == 3)
        {
            target = parts[1];
            permissions = parts[2];
            if (!permissions.All(c => "rwm".Contains(c))) throw new FormatException($"invalid argument \"{value}\" for \"--device\" flag: bad cgroup permissions \"{permissions}\"");
        }
        return new DeviceMapping { PathOnHost = parts[0], PathInContainer = target, CgroupPermissions = permissions };
    }
}
