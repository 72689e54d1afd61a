namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>What a removed container must not leave behind.</summary>
public static class ContainerLeaks
{
    /// <summary>Nothing of the container is left: its directory, a mount, runtime state of either driver, a cgroup, its monitor process.</summary>
    public static void AssertNothingLeft(DaemonInstance daemon, string id)
    {
        Assert.False(Directory.Exists(Path.Combine(daemon.DataRoot, "containers", id)), $"{id}'s directory is left");
        string mounts = File.ReadAllText("/proc/self/mountinfo");
        Assert.DoesNotContain(id, mounts);
        Assert.False(Directory.Exists(Path.Combine(daemon.ExecRoot, "runtime", id)), $"in-process runtime state of {id} is left");
        string runtimes = Path.Combine(daemon.ExecRoot, "runtimes");
        foreach (var runtimeRoot in Directory.Exists(runtimes) ? Directory.GetDirectories(runtimes) : [])
            Assert.False(Directory.Exists(Path.Combine(runtimeRoot, id)), $"runtime state of {id} is left in {runtimeRoot}");
        Assert.False(Directory.Exists(Path.Combine(daemon.ExecRoot, "containers", id)), $"{id}'s exec-root directory is left");
        Assert.False(Directory.Exists(Path.Combine(daemon.ExecRoot, "m", id[..20])), $"{id}'s monitor socket directory is left");
        foreach (var cgroup in new[] { "/sys/fs/cgroup/memory/berth", "/sys/fs/cgroup/pids/berth", "/sys/fs/cgroup/unified/berth", "/sys/fs/cgroup/berth",
                     "/sys/fs/cgroup/memory/docker", "/sys/fs/cgroup/pids/docker", "/sys/fs/cgroup/unified/docker" })
            Assert.False(Directory.Exists(Path.Combine(cgroup, id)), $"cgroup {cgroup}/{id} is left");
        // The monitor answers the wait, then removes its files and exits: it may take a moment to be gone.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (MonitorOf(id) is { } pid)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the monitor of {id} still runs 10 s after the container's removal: pid {pid}");
            Thread.Sleep(50);
        }
    }

    /// <summary>The pid of a process whose command line names the container (its monitor: berth-monitor serve .../id/monitor.json).</summary>
    public static int? MonitorOf(string id)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(id, StringComparison.Ordinal)) return pid;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return null;
    }
}
