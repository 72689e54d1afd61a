using Berth.Api;
using Berth.Daemon.Hosting;
using Berth.Engine;

namespace Berth.Daemon.Containers;

/// <summary>
/// What berthd does with restart policies, around <see cref="RestartManager"/>'s rules: the answer at a container's
/// exit (and its <c>restarting</c> state), the back-off and the start that follows it, the user's stops and starts
/// that end or renew a policy, and the starts at berthd's own start. <see cref="ContainerService"/> owns the
/// containers' locks and how a container starts; this type only decides and schedules.
/// </summary>
sealed class RestartScheduler : IDisposable
{
    readonly RestartManager _manager = new();
    readonly ContainerStore _store;
    readonly DaemonLog _log;
    readonly Func<string, SemaphoreSlim> _lockOf;
    readonly Func<ContainerRecordFile, Task> _startLocked;
    readonly Func<string, Task<bool>> _startByUser;

    /// <param name="lockOf">The container's lock, held around every state change.</param>
    /// <param name="startLocked">Starts the container, the caller holding its lock (a policy's restart).</param>
    /// <param name="startByUser">Starts the container as POST /containers/{id}/start does (berthd's start).</param>
    public RestartScheduler(ContainerStore store, DaemonLog log, Func<string, SemaphoreSlim> lockOf,
        Func<ContainerRecordFile, Task> startLocked, Func<string, Task<bool>> startByUser)
    {
        _store = store;
        _log = log;
        _lockOf = lockOf;
        _startLocked = startLocked;
        _startByUser = startByUser;
    }

    /// <summary>
    /// As dockerd at its start: a stopped container that has run is started again when its policy answers yes for
    /// its last exit, with a restart count that is not reset; a container that never ran is left alone.
    /// </summary>
    public static bool StartsAtBoot(ContainerRecordFile record) =>
        record.State.StartedAt != ContainerState.NeverTime && record.State.Status == "exited"
        && RestartManager.ShouldRestart(record.HostConfig.RestartPolicy, record.RestartCount, record.State.ExitCode, record.HasBeenManuallyStopped);

    /// <summary>Starts, one after the other, the containers <see cref="StartsAtBoot"/> chose, as a user's start would; failures are logged.</summary>
    public async Task StartAtBootAsync(IReadOnlyList<string> ids)
    {
        foreach (var id in ids)
        {
            try
            {
                _log.Info("starting the container per its restart policy", ("id", id));
                await _startByUser(id);
            }
            catch (Exception e)
            {
                _log.Error("cannot start the container per its restart policy", ("id", id), ("error", e.Message));
            }
        }
    }

    /// <summary>A start by the user begins the restart policy afresh, as dockerd's ResetRestartManager.</summary>
    public void StartedByUser(ContainerRecordFile record)
    {
        _manager.Reset(record.Id);
        record.RestartCount = 0;
        record.HasBeenManuallyStopped = false;
    }

    /// <summary>
    /// A stop or kill by the user (dockerd's killWithSignal), the caller holding the container's lock: the container
    /// counts as stopped by the user, and its policy ends when the signal is SIGKILL or its stop signal (any, when it
    /// has none), a back-off in progress with it.
    /// </summary>
    public void StoppedByUser(ContainerRecordFile record, int signal, string? stopSignal)
    {
        if (signal == 9 || string.IsNullOrEmpty(stopSignal) || SignalOrZero(stopSignal) == signal) _manager.Cancel(record.Id);
        record.HasBeenManuallyStopped = true;
    }

    static int SignalOrZero(string name)
    {
        try
        {
            return Signals.Parse(name);
        }
        catch (ContainerConfigException)
        {
            return 0;
        }
    }

    /// <summary>The container is gone: its policy state with it.</summary>
    public void Removed(string id) => _manager.Reset(id);

    /// <summary>
    /// The container's init exited (its exit already in the record, the caller holding its lock): the back-off
    /// before the policy starts it again, the record then marked restarting with one more restart counted; null when
    /// it stays exited. The policy is the one the record has now: an update since the start counts.
    /// </summary>
    public TimeSpan? AtExit(ContainerRecordFile record, ContainerExit exit, TimeSpan ran)
    {
        if (_store.Find(record.Id) is null) return null;
        var restartIn = _manager.OnExit(record.Id, record.HostConfig.RestartPolicy, record.RestartCount, exit.ExitCode, record.HasBeenManuallyStopped, ran);
        if (restartIn is null) return null;
        record.RestartCount++;
        record.State.Status = "restarting";
        record.State.Running = true;
        record.State.Restarting = true;
        return restartIn;
    }

    /// <summary>
    /// The restart after the back-off <see cref="AtExit"/> chose; when the back-off was cancelled (stop, kill, rm -f,
    /// berthd's shutdown) or the start fails, the container is left exited.
    /// </summary>
    public async Task RestartAfterAsync(ContainerRecordFile record, TimeSpan delay)
    {
        _log.Debug("restarting the container per its restart policy", ("id", record.Id), ("delay-ms", delay.TotalMilliseconds));
        bool due = await _manager.WaitAsync(record.Id, delay);
        var gate = _lockOf(record.Id);
        await gate.WaitAsync();
        try
        {
            if (record.State.Status != "restarting" || _store.Find(record.Id) is null) return;
            if (due && !_manager.IsCanceled(record.Id))
            {
                try
                {
                    await _startLocked(record);
                    return;
                }
                catch (Exception e)
                {
                    _log.Error("cannot restart the container per its restart policy", ("id", record.Id), ("error", e.Message));
                }
            }
            record.State.Status = "exited";
            record.State.Running = false;
            record.State.Restarting = false;
            _store.Save(record);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>berthd stops: every back-off ends now (those containers are left exited), nothing is started any more.</summary>
    public void Dispose() => _manager.Dispose();
}
