namespace Berth.Engine;

/// <summary>How a container gets one of its namespaces (the seed's "private, the host's, or another container's").</summary>
public enum NamespaceSharing
{
    /// <summary>Its own new namespace.</summary>
    Private,
    /// <summary>The host's: no namespace in the spec.</summary>
    Host,
    /// <summary>Another container's, joined through /proc/&lt;its pid&gt;/ns/&lt;kind&gt;.</summary>
    Container,
}

/// <summary>A parsed IpcMode, PidMode, UTSMode or NetworkMode: the sharing, the IPC flavour, and the other container's name.</summary>
public readonly record struct NamespaceMode(NamespaceSharing Sharing, string Value, string ContainerReference = "")
{
    const string ContainerPrefix = "container:";

    public bool IsHost => Sharing == NamespaceSharing.Host;
    public bool IsContainer => Sharing == NamespaceSharing.Container;

    /// <summary>NetworkMode names a user-defined network (<see cref="Value"/> is its name or id): the daemon makes the
    /// container's namespace and joins it to the network before the start.</summary>
    public bool IsUserNetwork { get; init; }

    /// <summary>IpcMode: "" or "private", "shareable", "none", "host", "container:&lt;name|id&gt;".</summary>
    public static NamespaceMode Ipc(string mode) => mode switch
    {
        "" or "private" => new(NamespaceSharing.Private, "private"),
        "shareable" or "none" => new(NamespaceSharing.Private, mode),
        "host" => new(NamespaceSharing.Host, mode),
        _ => ContainerOr(mode, "IpcMode", $"invalid IPC mode: {mode}"),
    };

    /// <summary>PidMode: "" (private), "host", "container:&lt;name|id&gt;".</summary>
    public static NamespaceMode Pid(string mode) => mode switch
    {
        "" => new(NamespaceSharing.Private, ""),
        "host" => new(NamespaceSharing.Host, mode),
        _ => ContainerOr(mode, "PidMode", $"invalid PID mode: {mode}"),
    };

    /// <summary>UTSMode: "" (private) or "host".</summary>
    public static NamespaceMode Uts(string mode) => mode switch
    {
        "" => new(NamespaceSharing.Private, ""),
        "host" => new(NamespaceSharing.Host, mode),
        _ => throw new ContainerConfigException($"invalid UTS mode: {mode}"),
    };

    /// <summary>
    /// NetworkMode: "none"; "default" and "bridge" when the daemon has no bridge (a namespace with only loopback, as
    /// dockerd -b none); "host"; "container:&lt;name|id&gt;"; any other value names a user-defined network (whether it
    /// exists is the daemon's to say).
    /// </summary>
    public static NamespaceMode Network(string mode, bool bridgeNone) => mode switch
    {
        "none" => new(NamespaceSharing.Private, mode),
        "" or "default" or "bridge" when bridgeNone => new(NamespaceSharing.Private, "default"),
        "" or "default" or "bridge" => throw ContainerConfigException.NotSupported("NetworkMode \"bridge\"", "Berth has no bridge network; berthd runs with --bridge none"),
        "host" => new(NamespaceSharing.Host, mode),
        _ when mode.StartsWith(ContainerPrefix, StringComparison.Ordinal) => ContainerOr(mode, "NetworkMode", ""),
        _ => new(NamespaceSharing.Private, mode) { IsUserNetwork = true },
    };

    /// <summary>Whether a NetworkMode names a user-defined network rather than a mode (none, host, default, bridge,
    /// container:x), as <see cref="Network"/> reads it, without its checks (callers outside validation use this).</summary>
    public static bool NamesUserNetwork(string mode) =>
        mode is not ("" or "default" or "bridge" or "none" or "host") && !mode.StartsWith(ContainerPrefix, StringComparison.Ordinal);

    static NamespaceMode ContainerOr(string mode, string field, string invalid)
    {
        if (!mode.StartsWith(ContainerPrefix, StringComparison.Ordinal)) throw new ContainerConfigException(invalid);
        var reference = mode[ContainerPrefix.Length..];
        if (reference.Length == 0) throw new ContainerConfigException($"invalid {field} \"{mode}\": no container named");
        return new(NamespaceSharing.Container, "container", reference);
    }
}
