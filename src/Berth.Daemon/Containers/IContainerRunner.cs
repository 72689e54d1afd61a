namespace Berth.Daemon.Containers;

/// <summary>
/// What berthd's container endpoints ask of whatever runs containers. The real implementation launches a
/// berth-monitor per container (docs/engine.md: launch, then the <c>start</c> op; <c>wait</c>; the exec driver's
/// Signal and Delete); <see cref="RuntimeBinaryRunner"/> is the stopgap until it is wired in.
/// Errors of the runtime are <see cref="ContainerRunnerException"/> with the runtime's own message.
/// </summary>
public interface IContainerRunner
{
    /// <summary>The exec driver's name, recorded as the container's Driver.</summary>
    string Name { get; }

    /// <summary>Creates and starts the container of a bundle; returns its init's pid once it runs.</summary>
    Task<int> StartAsync(ContainerLaunch launch, CancellationToken ct);

    /// <summary>Completes when the container's init has exited and its output is drained into the log.</summary>
    Task<ContainerExit> WaitAsync(string id);

    /// <summary>Sends a signal to the init (or, with <paramref name="all"/>, every process of the container).</summary>
    void Signal(string id, int signal, bool all);

    /// <summary>Removes the runtime's state of a stopped container (with <paramref name="force"/>, kills a running one first). No error when there is none.</summary>
    void Delete(string id, bool force);

    /// <summary>After a berthd restart: whether the container still runs (its pid) or is gone (null).</summary>
    int? Restore(string id);
}

/// <param name="Id">The container id.</param>
/// <param name="Bundle">The bundle directory (config.json, root.path the mounted rootfs).</param>
/// <param name="LogPath">The json-file log the output goes to.</param>
/// <param name="ExitFile">Where the exit is recorded (exit.json).</param>
public sealed record ContainerLaunch(string Id, string Bundle, string LogPath, string ExitFile, bool Terminal, bool OpenStdin, bool StdinOnce);

/// <summary>How a container's init ended.</summary>
public sealed record ContainerExit(int ExitCode, DateTimeOffset FinishedAt, bool OOMKilled = false, string Error = "");

/// <summary>The runtime refused or failed; the message is the runtime's.</summary>
public sealed class ContainerRunnerException(string message) : Exception(message);
