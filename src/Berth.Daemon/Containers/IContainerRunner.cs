using Berth.ExecDrivers;

namespace Berth.Daemon.Containers;

/// <summary>
/// What berthd's container endpoints ask of whatever runs containers: <see cref="MonitorRunner"/>, a berth-monitor
/// per container (docs/engine.md). Create and start are two steps so that an attach made before the start (docker
/// run) is in place before the container's first output. Errors of the runtime are
/// <see cref="ContainerRunnerException"/> with the runtime's own message.
/// </summary>
public interface IContainerRunner
{
    /// <summary>Creates the container of a bundle (its init waits for <see cref="StartAsync"/>).</summary>
    Task CreateAsync(ContainerLaunch launch);

    /// <summary>Releases the created container's init to run; returns its pid.</summary>
    Task<int> StartAsync(string id);

    /// <summary>Completes when the container's init has exited and its output is drained into the log.</summary>
    Task<ContainerExit> WaitAsync(string id);

    /// <summary>Sends a signal to the init (or, with <paramref name="all"/>, every process of the container).</summary>
    void Signal(string id, int signal, bool all);

    /// <summary>Freezes every process of the running container (the cgroup freezer).</summary>
    void Pause(string id);

    /// <summary>Thaws what <see cref="Pause"/> froze.</summary>
    void Resume(string id);

    /// <summary>Applies new resource limits to the running container's cgroup.</summary>
    void Update(string id, Berth.Oci.LinuxResources resources);

    /// <summary>Removes the runtime's state of a stopped container (with <paramref name="force"/>, kills a running one first). No error when there is none.</summary>
    void Delete(string id, bool force);

    /// <summary>After a berthd restart: the container still runs (its pid), exited meanwhile (its exit), or is gone (neither).</summary>
    (int? Pid, ContainerExit? Exit) Restore(string id, string driver, string exitFile);

    /// <summary>The monitor of a created or running container (attach, resize, exec).</summary>
    MonitorClient Monitor(string id);
}

/// <param name="Id">The container id.</param>
/// <param name="Driver">The exec driver's name (HostConfig.Runtime).</param>
/// <param name="Bundle">The bundle directory (config.json, root.path the mounted rootfs).</param>
/// <param name="LogPath">The json-file log the output goes to.</param>
/// <param name="ExitFile">Where the exit is recorded (exit.json).</param>
public sealed record ContainerLaunch(string Id, string Driver, string Bundle, string LogPath, string ExitFile, bool Terminal, bool OpenStdin, bool StdinOnce);

/// <summary>How a container's init ended.</summary>
public sealed record ContainerExit(int ExitCode, DateTimeOffset FinishedAt, bool OOMKilled = false, string Error = "");

/// <summary>The runtime refused or failed; the message is the runtime's.</summary>
public sealed class ContainerRunnerException(string message) : Exception(message);
