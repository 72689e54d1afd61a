namespace Berth.Runtime;

/// <summary>
/// The OCI lifecycle rules (runtime.md) as pure functions: what status a container is in, given what the runtime
/// can observe, and which operations each status allows. <see cref="Container"/> applies them.
/// </summary>
public static class Lifecycle
{
    /// <param name="init">/proc/PID/stat of the recorded init pid, null when there is no such process.</param>
    /// <param name="recordedStartTime">The start time saved at create; 0 when unknown.</param>
    /// <param name="fifoExists">exec.fifo is still there and init holds it: start has not released init yet.</param>
    public static ContainerStatus Derive(ProcStat? init, ulong recordedStartTime, bool fifoExists)
    {
        if (init is not { } s) return ContainerStatus.Stopped;
        if (s.State is 'Z' or 'X') return ContainerStatus.Stopped;
        if (recordedStartTime != 0 && s.StartTime != recordedStartTime) return ContainerStatus.Stopped; // pid reused
        return fifoExists ? ContainerStatus.Created : ContainerStatus.Running;
    }

    public static bool CanStart(ContainerStatus s) => s == ContainerStatus.Created;

    /// <summary>pause freezes a running container, or a created one (as runc allows).</summary>
    public static bool CanPause(ContainerStatus s) => s is ContainerStatus.Running or ContainerStatus.Created;

    /// <summary>Signals reach created, running and paused containers; a stopped one has no process left.</summary>
    public static bool CanSignal(ContainerStatus s) => s != ContainerStatus.Stopped;

    /// <summary>delete without --force accepts a stopped container, and a created one (its init is killed first).</summary>
    public static bool CanDeleteWithoutForce(ContainerStatus s) => s is ContainerStatus.Stopped or ContainerStatus.Created;

    public static bool NeedsKillBeforeDelete(ContainerStatus s) => s != ContainerStatus.Stopped;
}
