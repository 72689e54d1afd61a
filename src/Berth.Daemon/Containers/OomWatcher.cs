using System.Collections.Concurrent;
using System.Text.Json;
using Berth.Cgroups;
using Berth.Daemon.Hosting;
using Berth.ExecDrivers;

namespace Berth.Daemon.Containers;

/// <summary>
/// dockerd's <c>oom</c> event when the OOM killer acts, not when the container exits: while a container runs, a
/// thread of its own waits on its memory cgroup's OOM notification (<see cref="OomNotifier"/>: an eventfd on
/// memory.oom_control on v1 and hybrid hosts, inotify on memory.events on v2) and reports each kill, whether it ends
/// the container or one of its processes. The watch starts before the container's init runs (a kill can come at
/// once) but reports only after <see cref="Release"/>, so that <c>oom</c> follows <c>start</c>, as with dockerd.
/// <see cref="Stop"/> says whether a kill was reported, so that the exit reports one berthd did not see (the watch
/// could not be set up, or berthd was down) and none twice.
/// </summary>
sealed class OomWatcher(DaemonLog log) : IDisposable
{
    /// <summary>How often a wait looks whether its watch was stopped (the cgroup's removal ends it sooner).</summary>
    static readonly TimeSpan StopCheck = TimeSpan.FromSeconds(1);
    readonly ConcurrentDictionary<string, Watch> _watches = new(StringComparer.Ordinal);

    sealed class Watch(Action onOom)
    {
        public Action OnOom { get; } = onOom;
        public bool Stopped;
        public bool Released;
        public int Pending;
        public int Reported;

        /// <summary>Under the lock: reports the kills seen so far once released.</summary>
        public void ReportPending()
        {
            if (!Released || Stopped) return;
            for (; Pending > 0; Pending--)
            {
                Reported++;
                OnOom();
            }
        }
    }

    /// <summary>
    /// Watches the container created from <paramref name="bundle"/> (its cgroup exists from the create on);
    /// <paramref name="onOom"/> runs at each OOM kill, from <see cref="Release"/> until <see cref="Stop"/>. Nothing
    /// when the container has no memory cgroup to watch.
    /// </summary>
    public void Start(string id, string bundle, Action onOom)
    {
        Stop(id);
        OomNotifier notifier;
        try
        {
            if (BundleCgroup.Of(bundle, id) is not { } cgroup) return;
            notifier = OomNotifier.Open(cgroup.Paths);
        }
        catch (Exception e) when (e is CgroupException or IOException or UnauthorizedAccessException or JsonException)
        {
            log.Warn("cannot watch the container for OOM kills: its oom event comes with its exit", ("id", id), ("error", e.Message));
            return;
        }
        var watch = new Watch(onOom);
        _watches[id] = watch;
        new Thread(() => Run(id, notifier, watch)) { IsBackground = true, Name = "oom " + id[..12] }.Start();
    }

    /// <summary>The container's start was published: its kills are reported from now on (those seen already, first).</summary>
    public void Release(string id)
    {
        if (!_watches.TryGetValue(id, out var watch)) return;
        lock (watch)
        {
            watch.Released = true;
            watch.ReportPending();
        }
    }

    void Run(string id, OomNotifier notifier, Watch watch)
    {
        using (notifier)
        {
            try
            {
                for (;;)
                {
                    var seen = notifier.Wait(StopCheck);
                    lock (watch)
                    {
                        if (watch.Stopped || seen == OomWait.Ended) return;
                        if (seen != OomWait.Oom) continue;
                        // Under the lock: Stop, and with it the exit's die, comes after the event.
                        watch.Pending++;
                        watch.ReportPending();
                    }
                }
            }
            catch (CgroupException e)
            {
                log.Warn("the OOM watch of the container ended", ("id", id), ("error", e.Message));
            }
        }
    }

    /// <summary>The container exited (or berthd stops): its watch ends. True when it reported an OOM kill.</summary>
    public bool Stop(string id)
    {
        if (!_watches.TryRemove(id, out var watch)) return false;
        lock (watch)
        {
            watch.Stopped = true;
            return watch.Reported > 0;
        }
    }

    public void Dispose()
    {
        foreach (var id in _watches.Keys) Stop(id);
    }
}
