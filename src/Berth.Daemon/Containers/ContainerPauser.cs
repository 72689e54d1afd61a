using Berth.Daemon.Api;
using Berth.Engine;

namespace Berth.Daemon.Containers;

/// <summary>
/// docker pause and unpause: dockerd's rules and texts, the runtime's freezer (the in-process driver freezes the
/// container's cgroup through Berth.Cgroups, v1 freezer or v2 cgroup.freeze; runc does <c>runc pause</c>), and the
/// record's state. The caller holds the container's lock, saves the record and publishes the event.
/// </summary>
public static class ContainerPauser
{
    /// <exception cref="ApiException">409 when it is not running or already paused; 500 with the runtime's message.</exception>
    public static void Pause(ContainerRecordFile record, IContainerRunner runner)
    {
        if (!record.Running) throw ApiException.Conflict($"Container {record.Id} is not running");
        if (record.State.Status == "paused") throw ApiException.Conflict($"Container {record.Id} is already paused");
        if (record.State.Status == "restarting")
            throw ApiException.Conflict($"Container {record.Id} is restarting, wait until the container is running");
        Call(() => runner.Pause(record.Id), $"Cannot pause container {record.Id}");
        record.State.Status = "paused";
        record.State.Paused = true;
    }

    /// <exception cref="ApiException">409 when it is not paused (dockerd 20.10 answers 500, later ones 409, with the same text); 500 with the runtime's message.</exception>
    public static void Unpause(ContainerRecordFile record, IContainerRunner runner)
    {
        if (record.State.Status != "paused") throw ApiException.Conflict($"Container {record.Id} is not paused");
        Call(() => runner.Resume(record.Id), $"Cannot unpause container {record.Id}");
        record.State.Status = "running";
        record.State.Paused = false;
    }

    /// <summary>
    /// A frozen process acts on a signal only once thawed. As dockerd, a paused container is unpaused after SIGKILL
    /// and after its stop signal (after any signal when it has no StopSignal of its own), so kill, stop and rm -f end it.
    /// </summary>
    public static bool ThawsAfter(int signal, string? stopSignal)
    {
        if (signal == 9 || string.IsNullOrEmpty(stopSignal)) return true;
        try
        {
            return Signals.Parse(stopSignal) == signal;
        }
        catch (ContainerConfigException)
        {
            return false;
        }
    }

    static void Call(Action action, string what)
    {
        try
        {
            action();
        }
        catch (ContainerRunnerException e)
        {
            throw new ApiException(500, $"{what}: {e.Message}", e);
        }
    }
}
