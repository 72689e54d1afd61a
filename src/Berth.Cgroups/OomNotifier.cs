using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;

namespace Berth.Cgroups;

/// <summary>What <see cref="OomNotifier.Wait"/> saw.</summary>
public enum OomWait
{
    /// <summary>The timeout passed without an OOM kill.</summary>
    Timeout,
    /// <summary>The kernel's OOM killer acted in the container's memory cgroup.</summary>
    Oom,
    /// <summary>The container ended: its cgroup was removed or emptied, or the end fd became readable.</summary>
    Ended,
}

/// <summary>
/// OOM notifications of one container's memory cgroup, as runc's `events` gets them. cgroup v1: an eventfd
/// registered for memory.oom_control through cgroup.event_control, which the kernel signals on each OOM (and
/// when the cgroup goes away). cgroup v2: inotify on memory.events (an oom_kill counter increase is an OOM) and
/// on cgroup.events ("populated 0": the container's processes are gone).
/// </summary>
public sealed class OomNotifier : IDisposable
{
    readonly Fd _fd;
    readonly string _dir;
    readonly bool _v2;
    ulong _oomKills;
    bool _ended;

    OomNotifier(Fd fd, string dir, bool v2)
    {
        _fd = fd;
        _dir = dir;
        _v2 = v2;
        if (v2)
            _oomKills = StatsReader.KeyValues(dir, "memory.events").GetValueOrDefault("oom_kill");
    }

    /// <summary>
    /// Registers for the container's OOM events, given its <see cref="CgroupManager.Paths"/>: the v1 memory
    /// cgroup when there is one (v1 and hybrid hosts), else the cgroup2 directory of a pure v2 host.
    /// </summary>
    public static OomNotifier Open(IReadOnlyDictionary<string, string> paths)
    {
        if (paths.TryGetValue("memory", out string? v1))
            return OpenV1(v1);
        if (paths.TryGetValue(CgroupManager.V2Key, out string? v2))
            return OpenV2(v2);
        throw new CgroupException("cannot watch for OOM events: the container has no memory cgroup (the v1 memory controller is not mounted)");
    }

    static unsafe OomNotifier OpenV1(string dir)
    {
        string control = Path.Combine(dir, "memory.oom_control"), register = Path.Combine(dir, "cgroup.event_control");
        using var oomControl = OpenOrThrow(control, Libc.O_RDONLY);
        int efd = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        if (efd < 0)
            throw Error("eventfd", control);
        var fd = new Fd(efd);
        try
        {
            using var registration = OpenOrThrow(register, Libc.O_WRONLY);
            byte[] line = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{efd} {oomControl.Value}"));
            fixed (byte* p = line)
            {
                if (Libc.write(registration.Value, p, line.Length) != line.Length)
                    throw Error($"registering an eventfd for {control} in", register);
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }
        return new OomNotifier(fd, dir, v2: false);
    }

    static OomNotifier OpenV2(string dir)
    {
        int ifd = Libc.inotify_init1(Libc.IN_CLOEXEC | Libc.IN_NONBLOCK);
        if (ifd < 0)
            throw Error("inotify_init1", dir);
        var fd = new Fd(ifd);
        foreach (string file in (string[])["memory.events", "cgroup.events"])
        {
            string path = Path.Combine(dir, file);
            if (Libc.inotify_add_watch(ifd, path, Libc.IN_MODIFY) < 0)
            {
                var e = Error("inotify_add_watch", path);
                fd.Dispose();
                throw e;
            }
        }
        return new OomNotifier(fd, dir, v2: true);
    }

    /// <summary>The notification fd, readable when <see cref="Wait"/> has something to say: for a caller that polls many
    /// notifiers at once and then calls <see cref="Wait"/> with a zero timeout on the readable ones.</summary>
    public int Fd => _fd.Value;

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for an OOM kill or the end of the container. <paramref name="endFd"/>
    /// (e.g. a pidfd of the container's init) ends the wait when readable; an OOM that the kernel reported before
    /// it is still returned first, so that a container killed by the OOM killer reports the OOM, then ends.
    /// </summary>
    public unsafe OomWait Wait(TimeSpan timeout, Fd? endFd = null)
    {
        if (_ended)
            return OomWait.Ended;
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = _fd.Value, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = endFd?.Value ?? -1, Events = Libc.POLLIN }; // a negative fd is ignored
        int ms = (int)Math.Clamp(Math.Ceiling(timeout.TotalMilliseconds), 0, int.MaxValue);
        int n = Libc.poll(fds, 2, ms);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
                return OomWait.Timeout;
            throw new CgroupException($"poll on the OOM notification of {_dir}: {LinuxException.Describe(errno)}") { Errno = errno };
        }
        if (fds[0].Revents != 0 && Consume() is var seen and not OomWait.Timeout)
            return seen;
        if (fds[1].Revents != 0)
        {
            _ended = true;
            return _v2 && OomKillsIncreased() ? OomWait.Oom : OomWait.Ended;
        }
        return OomWait.Timeout;
    }

    /// <summary>Reads what made the notification fd readable and says what it meant.</summary>
    unsafe OomWait Consume()
    {
        var buffer = stackalloc byte[4096];
        nint n = Libc.read(_fd.Value, buffer, 4096); // the eventfd's counter, or queued inotify events
        if (n < 0 && Marshal.GetLastPInvokeError() is not (Errno.EAGAIN or Errno.EINTR))
            throw Error("reading the OOM notification of", _dir);
        if (!_v2)
        {
            // The kernel also signals the eventfd when the cgroup is removed.
            if (!File.Exists(Path.Combine(_dir, "cgroup.event_control")))
            {
                _ended = true;
                return OomWait.Ended;
            }
            return n > 0 ? OomWait.Oom : OomWait.Timeout;
        }
        if (OomKillsIncreased())
            return OomWait.Oom;
        if (!Directory.Exists(_dir) || StatsReader.KeyValues(_dir, "cgroup.events").GetValueOrDefault("populated", 1UL) == 0)
        {
            _ended = true;
            return OomWait.Ended;
        }
        return OomWait.Timeout;
    }

    bool OomKillsIncreased()
    {
        ulong kills = StatsReader.KeyValues(_dir, "memory.events").GetValueOrDefault("oom_kill");
        bool increased = kills > _oomKills;
        _oomKills = Math.Max(kills, _oomKills);
        return increased;
    }

    static Fd OpenOrThrow(string path, int flags)
    {
        int fd = Libc.open(path, flags | Libc.O_CLOEXEC, 0);
        if (fd < 0)
            throw Error("open", path);
        return new Fd(fd);
    }

    static CgroupException Error(string what, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new CgroupException($"{what} {path}: {LinuxException.Describe(errno)}") { Errno = errno };
    }

    public void Dispose() => _fd.Dispose();
}
