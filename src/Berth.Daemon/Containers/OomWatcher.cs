using System.Runtime.InteropServices;
using System.Text.Json;
using Berth.Cgroups;
using Berth.Daemon.Hosting;
using Berth.ExecDrivers;
using Berth.Linux;

namespace Berth.Daemon.Containers;

/// <summary>
/// dockerd's <c>oom</c> event when the OOM killer acts, not when the container exits: while a container runs, its
/// memory cgroup's OOM notification (<see cref="OomNotifier"/>: an eventfd on memory.oom_control on v1 and hybrid
/// hosts, inotify on memory.events on v2) is watched and each kill reported, whether it ends the container or one of
/// its processes. One thread polls every running container's notification (a thread per container cost berthd a
/// stack each). The watch starts before the container's init runs (a kill can come at once) but reports only after
/// <see cref="Release"/>, so that <c>oom</c> follows <c>start</c>, as with dockerd. <see cref="Stop"/> says whether a
/// kill was reported, so that the exit reports one berthd did not see (the watch could not be set up, or berthd was
/// down) and none twice.
/// </summary>
sealed class OomWatcher : IDisposable
{
    static readonly TimeSpan JoinBound = TimeSpan.FromSeconds(5);
    readonly DaemonLog _log;
    readonly object _gate = new();
    readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    /// <summary>Watches stopped since the poll began: only the polling thread closes a notifier's fd, once its poll
    /// has returned, so that no fd is closed (and its number reused) under a poll.</summary>
    readonly List<Watch> _retired = [];
    readonly Fd _wake;
    Thread? _thread;
    bool _disposed;

    public OomWatcher(DaemonLog log)
    {
        _log = log;
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (fd < 0) throw LinuxException.FromLastError("eventfd", "the OOM watcher's wake-up");
        _wake = new Fd(fd);
    }

    sealed class Watch(string id, OomNotifier notifier, Action onOom)
    {
        public string Id { get; } = id;
        public OomNotifier Notifier { get; } = notifier;
        public Action OnOom { get; } = onOom;
        public bool Stopped;
        public bool Ended;
        public bool Released;
        public int Pending;
        public int Reported;

        /// <summary>Under the watch's lock: reports the kills seen so far once released.</summary>
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
            _log.Warn("cannot watch the container for OOM kills: its oom event comes with its exit", ("id", id), ("error", e.Message));
            return;
        }
        lock (_gate)
        {
            if (_disposed)
            {
                notifier.Dispose();
                return;
            }
            _watches[id] = new Watch(id, notifier, onOom);
            _thread ??= StartThread();
        }
        Wake();
    }

    Thread StartThread()
    {
        var thread = new Thread(Run, 256 * 1024) { IsBackground = true, Name = "oom" };
        thread.Start();
        return thread;
    }

    /// <summary>The container's start was published: its kills are reported from now on (those seen already, first).</summary>
    public void Release(string id)
    {
        Watch? watch;
        lock (_gate) _watches.TryGetValue(id, out watch);
        if (watch is null) return;
        lock (watch)
        {
            watch.Released = true;
            watch.ReportPending();
        }
    }

    unsafe void Run()
    {
        var polled = new List<Watch>();
        for (;;)
        {
            polled.Clear();
            lock (_gate)
            {
                CloseRetired();
                if (_disposed) return;
                foreach (var watch in _watches.Values)
                    if (!watch.Ended) polled.Add(watch);
            }
            var fds = new Libc.PollFd[polled.Count + 1];
            fds[0] = new Libc.PollFd { Fd = _wake.Value, Events = Libc.POLLIN };
            for (int i = 0; i < polled.Count; i++)
                fds[i + 1] = new Libc.PollFd { Fd = polled[i].Notifier.Fd, Events = Libc.POLLIN };
            int n;
            // No timeout: Start, Stop and Dispose write the wake-up eventfd.
            fixed (Libc.PollFd* p = fds) n = Libc.poll(p, (ulong)fds.Length, -1);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR) continue;
                _log.Warn("the OOM watch of running containers ended: their oom events come with their exits", ("error", LinuxException.Describe(errno)));
                return;
            }
            if (fds[0].Revents != 0) DrainWake();
            for (int i = 0; i < polled.Count; i++)
                if (fds[i + 1].Revents != 0) Check(polled[i]);
        }
    }

    void Check(Watch watch)
    {
        lock (watch)
        {
            if (watch.Stopped) return;
            OomWait seen;
            try
            {
                seen = watch.Notifier.Wait(TimeSpan.Zero);
            }
            catch (CgroupException e)
            {
                _log.Warn("the OOM watch of the container ended", ("id", watch.Id), ("error", e.Message));
                seen = OomWait.Ended;
            }
            if (seen == OomWait.Ended) watch.Ended = true;
            if (seen != OomWait.Oom) return;
            // Under the watch's lock: Stop, and with it the exit's die, comes after the event.
            watch.Pending++;
            watch.ReportPending();
        }
    }

    /// <summary>The container exited (or berthd stops): its watch ends. True when it reported an OOM kill.</summary>
    public bool Stop(string id)
    {
        Watch? watch;
        lock (_gate)
        {
            if (!_watches.Remove(id, out watch)) return false;
            _retired.Add(watch);
        }
        Wake();
        lock (watch)
        {
            watch.Stopped = true;
            return watch.Reported > 0;
        }
    }

    /// <summary>Under <see cref="_gate"/>: closes the notifiers of the watches stopped since the last poll.</summary>
    void CloseRetired()
    {
        foreach (var watch in _retired) watch.Notifier.Dispose();
        _retired.Clear();
    }

    unsafe void Wake()
    {
        ulong one = 1;
        _ = Libc.write(_wake.Value, (byte*)&one, sizeof(ulong));
    }

    unsafe void DrainWake()
    {
        ulong count;
        _ = Libc.read(_wake.Value, (byte*)&count, sizeof(ulong));
    }

    public void Dispose()
    {
        Thread? thread;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _retired.AddRange(_watches.Values);
            _watches.Clear();
            thread = _thread;
        }
        Wake();
        if (thread is null || thread.Join(JoinBound))
        {
            lock (_gate) CloseRetired();
            _wake.Dispose();
        }
        else
        {
            _log.Warn($"the OOM watcher's thread did not end within {JoinBound.TotalSeconds:0} s; its fds stay open until berthd exits");
        }
    }
}
