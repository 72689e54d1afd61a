namespace Berth.ExecDrivers;

/// <summary>
/// Runs containers for berthd and berth-monitor: the in-process Berth.Runtime (<see cref="InProcessDriver"/>) or an
/// OCI runtime binary with runc's command line (<see cref="OciBinaryDriver"/>). Create, Start and Exec run in the
/// monitor (the processes they make become its children); the rest may run anywhere. Every failure is an
/// <see cref="ExecDriverException"/> carrying the runtime's own message.
/// </summary>
public interface IExecDriver
{
    /// <summary>"berth" (in-process), or the name the runtime was added under (--add-runtime).</summary>
    string Name { get; }

    /// <summary>Creates the container from <paramref name="bundle"/>; returns its init's pid. Init is a child of the
    /// calling process (or reparented to it: the caller is a child subreaper).</summary>
    int Create(string id, string bundle, DriverStdio stdio);
    void Start(string id);
    void Signal(string id, int signal, bool all);
    void Delete(string id, bool force);
    void Pause(string id);
    void Resume(string id);
    IReadOnlyList<int> Pids(string id);
    Cgroups.CgroupStats Stats(string id);
    void Update(string id, Oci.LinuxResources resources);

    /// <summary>Starts <paramref name="process"/> in the running container; returns its pid, a child of the calling
    /// process (or reparented to it, the caller being a child subreaper).</summary>
    int Exec(string id, Oci.Process process, DriverStdio stdio);
}

/// <summary>
/// The stdio of a container's init or of an exec'd process: three fds the child gets as 0, 1 and 2 (the caller keeps
/// and closes its copies), or, for a terminal, the path of a listening unix socket that receives the pty master
/// (runc's --console-socket).
/// </summary>
public sealed record DriverStdio
{
    public int Stdin { get; init; } = -1;
    public int Stdout { get; init; } = -1;
    public int Stderr { get; init; } = -1;
    public string? ConsoleSocket { get; init; }

    public static DriverStdio Pipes(int stdin, int stdout, int stderr) => new() { Stdin = stdin, Stdout = stdout, Stderr = stderr };
    public static DriverStdio Console(string socketPath) => new() { ConsoleSocket = socketPath };
}

/// <summary>A driver's failure, with the runtime's own message as the text.</summary>
public sealed class ExecDriverException(string message, Exception? inner = null) : Exception(message, inner);
