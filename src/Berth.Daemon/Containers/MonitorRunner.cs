using System.Collections.Concurrent;
using Berth.ExecDrivers;
using Berth.Linux;

namespace Berth.Daemon.Containers;

/// <summary>
/// Runs each container under its own berth-monitor (docs/engine.md, "The monitor"): create = write monitor.json and
/// launch the monitor, which creates the container through its exec driver and holds it; start = the monitor's
/// <c>start</c>; the exit = its <c>wait</c>, or exit.json once it has gone. Signal and Delete go through the same exec
/// driver in berthd. The monitor is no child of berthd: after a berthd restart <see cref="Restore"/> finds it again
/// on its socket.
/// </summary>
public sealed class MonitorRunner(string monitorBinary, string execRoot, ExecDriverTable drivers) : IContainerRunner
{
    static readonly TimeSpan LaunchBound = TimeSpan.FromSeconds(90);
    /// <summary>One wait call; the wait is repeated until the exit comes or the monitor is gone.</summary>
    static readonly TimeSpan WaitRound = TimeSpan.FromMinutes(5);
    readonly ConcurrentDictionary<string, (MonitorClient Client, DriverSpec Driver)> _monitors = new(StringComparer.Ordinal);

    /// <summary>berth-monitor beside berthd's executable.</summary>
    public static string BesideDaemon() => Path.Combine(Path.GetDirectoryName(Environment.ProcessPath) ?? AppContext.BaseDirectory, "berth-monitor");

    string DirOf(string id) => Path.Combine(execRoot, "containers", id);

    /// <summary>
    /// Where the monitor's sockets go (monitor.sock, console.sock, exec-N.sock): a unix socket's path is at most 107
    /// bytes, which <c>&lt;exec-root&gt;/containers/&lt;64 hex&gt;/monitor.sock</c> exceeds under a longer exec root
    /// (measured: 118 under a test's /tmp/berthd-test-XXXXXX/exec). 20 hex digits of the id keep it short and unique.
    /// </summary>
    string SocketDirOf(string id) => Path.Combine(execRoot, "m", id[..Math.Min(20, id.Length)]);

    public Task CreateAsync(ContainerLaunch launch) => Task.Run(() =>
    {
        var driver = drivers.Spec(launch.Driver);
        string dir = DirOf(launch.Id);
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(SocketDirOf(launch.Id));
        // A previous run's exit must not answer this run's wait.
        File.Delete(launch.ExitFile);
        var request = new MonitorRequest
        {
            Id = launch.Id,
            Bundle = launch.Bundle,
            Driver = driver,
            Terminal = launch.Terminal,
            OpenStdin = launch.OpenStdin,
            StdinOnce = launch.StdinOnce,
            Log = new LogSpec { Path = launch.LogPath },
            ExitFile = launch.ExitFile,
            Socket = Path.Combine(SocketDirOf(launch.Id), "monitor.sock"),
            PidFile = Path.Combine(dir, "monitor.pid"),
        };
        if (!File.Exists(monitorBinary))
            throw new ContainerRunnerException($"berth-monitor not found at {monitorBinary}: it is published beside berthd");
        try
        {
            var client = MonitorClient.Launch(monitorBinary, Path.Combine(dir, "monitor.json"), request, LaunchBound);
            _monitors[launch.Id] = (client, driver);
        }
        catch (Exception e) when (e is MonitorException or ExecDriverException)
        {
            throw new ContainerRunnerException(e.Message);
        }
    });

    public Task<int> StartAsync(string id) => Task.Run(() =>
    {
        try
        {
            return Monitor(id).Start();
        }
        catch (MonitorException e)
        {
            throw new ContainerRunnerException(e.Message);
        }
    });

    public MonitorClient Monitor(string id) =>
        _monitors.TryGetValue(id, out var m) ? m.Client : throw new ContainerRunnerException($"container {id} has no monitor: it is not running");

    public Task<ContainerExit> WaitAsync(string id)
    {
        var client = Monitor(id);
        return WaitFor(client);
    }

    /// <summary>The monitor's wait, round after round; when the monitor is gone, exit.json; when that is missing too, 255 with why.</summary>
    async Task<ContainerExit> WaitFor(MonitorClient client)
    {
        for (;;)
        {
            try
            {
                var exit = await client.WaitAsync(WaitRound);
                return FromRecord(client.ExitFile is { } file ? ExitRecord.TryLoad(file) : null)
                       ?? new ContainerExit(exit.ExitCode, ContainerJson.ParseTime(exit.FinishedAt));
            }
            catch (MonitorException e)
            {
                if (FromRecord(ExitRecord.TryLoad(client.ExitFile!)) is { } recorded) return recorded;
                if (!MonitorAlive(client))
                    return new ContainerExit(255, DateTimeOffset.UtcNow, Error: $"the monitor of {client.Id} ended without recording the container's exit ({e.Message})");
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    static ContainerExit? FromRecord(ExitRecord? record) => record is null ? null
        : new ContainerExit(record.ExitCode, ContainerJson.ParseTime(record.FinishedAt), record.OOMKilled, record.Error);

    /// <summary>Its pid file (removed last when it leaves) names a live process.</summary>
    bool MonitorAlive(MonitorClient client)
    {
        string pidFile = Path.Combine(DirOf(client.Id), "monitor.pid");
        try
        {
            return int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid) && pid > 0 && Libc.kill(pid, 0) == 0;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Signal(string id, int signal, bool all) => WithDriver(id, d => d.Signal(id, signal, all));
    public void Pause(string id) => WithDriver(id, d => d.Pause(id));
    public void Resume(string id) => WithDriver(id, d => d.Resume(id));
    public void Update(string id, Berth.Oci.LinuxResources resources) => WithDriver(id, d => d.Update(id, resources));

    public void Delete(string id, bool force)
    {
        try
        {
            if (Directory.Exists(SocketDirOf(id))) Directory.Delete(SocketDirOf(id), recursive: true);
        }
        catch (IOException)
        {
            // Its monitor is still leaving; the next delete (rm) takes it.
        }
        if (!_monitors.TryRemove(id, out var m)) return; // never created by a monitor of this berthd, or deleted already
        try
        {
            m.Driver.Open().Delete(id, force);
        }
        catch (ExecDriverException e) when (e.Message.Contains("does not exist", StringComparison.Ordinal) || e.Message.Contains("not exist", StringComparison.Ordinal))
        {
            // The monitor deleted it after the exit.
        }
        catch (ExecDriverException e)
        {
            throw new ContainerRunnerException(e.Message);
        }
    }

    void WithDriver(string id, Action<IExecDriver> action)
    {
        var driver = _monitors.TryGetValue(id, out var m) ? m.Driver : throw new ContainerRunnerException($"container {id} has no monitor: it is not running");
        try
        {
            action(driver.Open());
        }
        catch (ExecDriverException e)
        {
            throw new ContainerRunnerException(e.Message);
        }
    }

    public (int? Pid, ContainerExit? Exit) Restore(string id, string driver, string exitFile)
    {
        var client = new MonitorClient(id, Path.Combine(SocketDirOf(id), "monitor.sock"), exitFile);
        DriverSpec spec;
        try
        {
            spec = drivers.Spec(driver);
        }
        catch (ContainerRunnerException)
        {
            spec = drivers.Spec(drivers.Default);
        }
        try
        {
            var status = client.Status();
            _monitors[id] = (client, spec);
            // Exited but still draining: the wait that follows brings the exit.
            return (status.Pid, null);
        }
        catch (MonitorException)
        {
            return (null, FromRecord(ExitRecord.TryLoad(exitFile)));
        }
    }
}
