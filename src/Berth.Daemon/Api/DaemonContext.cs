using Berth.Daemon.Hosting;
using Berth.Daemon.Images;

namespace Berth.Daemon.Api;

/// <summary>What the handlers read: settings, the facts found at start, and the image backend.</summary>
public sealed record DaemonContext(
    DaemonOptions Options,
    HostFacts Host,
    EngineInfo Engine,
    string EngineId,
    IImageBackend Images,
    DaemonLog Log,
    IReadOnlyList<string> Warnings)
{
    /// <summary>The containers, when the image backend is the store on disk (a test's fake backend has none).</summary>
    public Containers.ContainerService? Containers { get; init; }

    /// <summary>docker exec's instances (with <see cref="Containers"/>).</summary>
    public Containers.ExecService? Execs { get; init; }
    /// <summary>The daemon's events (GET /events), published by the containers and the image store.</summary>
    public global::Berth.Daemon.Events.EventBus Events { get; init; } = new();
}
