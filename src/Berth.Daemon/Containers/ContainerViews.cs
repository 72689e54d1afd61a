using System.Globalization;
using Berth.Api;
using Berth.Engine;

namespace Berth.Daemon.Containers;

/// <summary>A container record in the API's shapes: inspect and the list's summary, with dockerd's texts.</summary>
public static class ContainerViews
{
    public static ContainerInspect Inspect(ContainerRecordFile record, ContainerConfig merged, string dir, string volumesRoot)
    {
        var (path, args) = EntrypointAndArgs(merged);
        var state = record.State;
        // A fresh merge only: the fallback of an unmergeable config is the record's own, which keeps what the client sent.
        if (merged.Hostname.Length == 0 && !ReferenceEquals(merged, record.Config))
            merged.Hostname = DefaultHostname(record);
        return new ContainerInspect
        {
            Id = record.Id,
            Created = record.Created,
            Path = path,
            Args = args,
            State = new ContainerState
            {
                Status = state.Status,
                Running = state.Status is "running" or "paused" or "restarting",
                Paused = state.Status == "paused",
                Restarting = state.Status == "restarting",
                OOMKilled = state.OOMKilled,
                Dead = state.Status == "dead",
                Pid = state.Pid,
                ExitCode = state.ExitCode,
                Error = state.Error,
                StartedAt = state.StartedAt,
                FinishedAt = state.FinishedAt,
                Health = state.Health,
            },
            Image = record.Image,
            ResolvConfPath = record.ResolvConfPath,
            HostnamePath = record.HostnamePath,
            HostsPath = record.HostsPath,
            LogPath = record.LogPath,
            Name = record.Name,
            RestartCount = record.RestartCount,
            Driver = "overlay2",
            Platform = "linux",
            HostConfig = record.HostConfig,
            GraphDriver = new GraphDriverData
            {
                Name = "overlay2",
                Data = new Dictionary<string, string>
                {
                    ["MergedDir"] = RootfsMounter.RootfsPath(dir),
                    ["UpperDir"] = Path.Combine(dir, "rw", "upper"),
                    ["WorkDir"] = Path.Combine(dir, "rw", "work"),
                },
            },
            Mounts = UserMounts.MountPoints(record.HostConfig, volumesRoot, record.AnonymousVolumes),
            Config = merged,
            NetworkSettings = ContainerNetworks.Settings(record, merged.ExposedPorts?.Keys),
        };
    }

    /// <summary>
    /// The hostname dockerd records in Config.Hostname when the client set none, which SDKs read: the short id, or the
    /// host's name in the host's UTS or network namespace; empty with another container's network (its name is that one's).
    /// </summary>
    static string DefaultHostname(ContainerRecordFile record) =>
        record.HostConfig.UTSMode == "host" || record.HostConfig.NetworkMode == "host" ? Environment.MachineName
        : record.HostConfig.NetworkMode.StartsWith("container:", StringComparison.Ordinal) ? ""
        : record.Id[..12];

    static (string Path, List<string> Args) EntrypointAndArgs(ContainerConfig merged)
    {
        try
        {
            return ConfigMerge.EntrypointAndArgs(merged);
        }
        catch (ContainerConfigException)
        {
            return ("", []);
        }
    }

    public static ContainerSummary Summary(ContainerRecordFile record, ContainerConfig merged, string volumesRoot)
    {
        var (path, args) = EntrypointAndArgs(merged);
        return new ContainerSummary
        {
            Id = record.Id,
            Names = [record.Name],
            Image = record.ImageName,
            ImageID = record.Image,
            // dockerd wraps an argument with a space in single quotes.
            Command = args.Count > 0 ? path + " " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"'{a}'" : a)) : path,
            Created = ContainerJson.ParseTime(record.Created).ToUnixTimeSeconds(),
            Labels = merged.Labels ?? [],
            State = record.State.Status,
            Status = StatusText(record.State, DateTimeOffset.UtcNow),
            HostConfig = new SummaryHostConfig { NetworkMode = record.HostConfig.NetworkMode.Length > 0 ? record.HostConfig.NetworkMode : "default" },
            Ports = ContainerNetworks.SummaryPorts(record, merged.ExposedPorts?.Keys),
            NetworkSettings = new SummaryNetworkSettings { Networks = ContainerNetworks.Summary(record) },
            Mounts = UserMounts.MountPoints(record.HostConfig, volumesRoot, record.AnonymousVolumes),
        };
    }

    /// <summary>dockerd's Status column: "Created", "Up 4 seconds (healthy)", "Restarting (1) 1 second ago", "Exited (137) 3 seconds ago".</summary>
    public static string StatusText(ContainerState state, DateTimeOffset now) => state.Status switch
    {
        "running" => "Up " + HumanDuration(now - ContainerJson.ParseTime(state.StartedAt)) + HealthText(state.Health),
        "paused" => "Up " + HumanDuration(now - ContainerJson.ParseTime(state.StartedAt)) + " (Paused)",
        "restarting" => $"Restarting ({state.ExitCode}) " + HumanDuration(now - ContainerJson.ParseTime(state.FinishedAt)) + " ago",
        "exited" when state.FinishedAt == ContainerState.NeverTime => "Exited (" + state.ExitCode.ToString(CultureInfo.InvariantCulture) + ")",
        "exited" => $"Exited ({state.ExitCode}) " + HumanDuration(now - ContainerJson.ParseTime(state.FinishedAt)) + " ago",
        "dead" => "Dead",
        "removing" => "Removal In Progress",
        _ => "Created",
    };

    /// <summary>dockerd's health suffix: " (healthy)", " (unhealthy)", " (health: starting)".</summary>
    static string HealthText(ContainerHealth? health) => health switch
    {
        null => "",
        { Status: "starting" } => " (health: starting)",
        _ => $" ({health.Status})",
    };

    static string HumanDuration(TimeSpan d) => Berth.Api.HumanDuration.Of(d);
}
