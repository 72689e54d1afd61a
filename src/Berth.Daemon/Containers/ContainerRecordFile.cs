using System.Globalization;
using System.Text.Json.Serialization;
using Berth.Api;

namespace Berth.Daemon.Containers;

/// <summary>
/// A container as berthd keeps it in <c>&lt;data-root&gt;/containers/&lt;id&gt;/config.v2.json</c> (docs/engine.md):
/// Config and HostConfig as the client sent them, the image it was created from, and its run state.
/// </summary>
public sealed class ContainerRecordFile
{
    public string Id { get; set; } = "";
    /// <summary>With its leading slash ("/web").</summary>
    public string Name { get; set; } = "";
    /// <summary>RFC 3339 with nanoseconds, UTC.</summary>
    public string Created { get; set; } = "";
    /// <summary>The image id ("sha256:...").</summary>
    public string Image { get; set; } = "";
    /// <summary>The image as the client wrote it.</summary>
    public string ImageName { get; set; } = "";
    public ContainerConfig Config { get; set; } = new();
    public HostConfig HostConfig { get; set; } = new();
    /// <summary>The exec driver (runtime) that runs it.</summary>
    public string Driver { get; set; } = "";
    public ContainerState State { get; set; } = new();
    public int RestartCount { get; set; }
    /// <summary>Stopped or killed by the user since its last start (unless-stopped then leaves it stopped).</summary>
    public bool HasBeenManuallyStopped { get; set; }
    public string LogPath { get; set; } = "";
    public string HostnamePath { get; set; } = "";
    public string HostsPath { get; set; } = "";
    public string ResolvConfPath { get; set; } = "";
    /// <summary>Its sandbox and endpoint since its first start (<see cref="ContainerNetworks"/>); null before.</summary>
    public ContainerNetworkState? Network { get; set; }
    /// <summary>What the create asked of its network: aliases and an address on a user-defined network.</summary>
    public EndpointSettings? Endpoint { get; set; }
    /// <summary>Disconnected from its network while it was not running (docker network disconnect), until connected again.</summary>
    public bool NetworkDisconnected { get; set; }
    /// <summary>The anonymous volumes made at create, destination → volume name (rm -v and AutoRemove remove them).</summary>
    public Dictionary<string, string>? AnonymousVolumes { get; set; }

    public string ShortId => Id[..12];
    public bool Running => State.Status is "running" or "paused" or "restarting";
}

/// <summary>The answer of POST /containers/prune.</summary>
public sealed class ContainersPruneReport
{
    public List<string>? ContainersDeleted { get; set; }
    public ulong SpaceReclaimed { get; set; }
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata, AllowTrailingCommas = true)]
[JsonSerializable(typeof(ContainerRecordFile))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(ContainerWaitResponse))]
[JsonSerializable(typeof(ContainersPruneReport))]
public sealed partial class ContainerJsonContext : JsonSerializerContext;

/// <summary>The JSON of container files and answers, with Go's escaping (as <see cref="ApiJson"/>).</summary>
public static class ContainerJson
{
    public static ContainerJsonContext Context { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        AllowTrailingCommas = true,
    });

    public static string Rfc3339Nano(DateTimeOffset time) => Images.ImageApiModels.Rfc3339Nano(time);

    public static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : DateTimeOffset.MinValue;
}
