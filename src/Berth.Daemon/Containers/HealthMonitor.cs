using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Berth.Api;
using Berth.Daemon.Hosting;
using Berth.ExecDrivers;
using Berth.Linux;

namespace Berth.Daemon.Containers;

/// <summary>
/// dockerd's health checks: while a container with a HEALTHCHECK (its own or its image's) runs, its test is exec'd in
/// it every interval through the container's monitor, and <c>State.Health</c> kept as dockerd keeps it: "starting"
/// until the first success, "healthy" after each success, "unhealthy" after Retries failures in a row (failures inside
/// the start period do not count while it is starting), the last 5 results, a <c>health_status: X</c> event at each
/// change. Each probe is an exec with dockerd's exec events (<see cref="ExecEvents"/>). A check that outlives its
/// timeout is killed and fails with exit code -1. The state lives in memory, as dockerd's; it reaches config.v2.json
/// with the container's next state change.
/// </summary>
public sealed class HealthMonitor(IContainerRunner runner, Action<ContainerRecordFile, string, Dictionary<string, string>?> publish, DaemonLog log)
    : IDisposable
{
    const int MaxOutput = 4096, MaxLogEntries = 5, DefaultRetries = 3;
    static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30), DefaultTimeout = TimeSpan.FromSeconds(30),
        DefaultStartInterval = TimeSpan.FromSeconds(5);
    /// <summary>How long starting the exec and, after a kill, collecting the check may take.</summary>
    static readonly TimeSpan ExecBound = TimeSpan.FromSeconds(30);
    readonly ConcurrentDictionary<string, CancellationTokenSource> _checks = new(StringComparer.Ordinal);
    bool _disposed;

    /// <summary>The command a HEALTHCHECK runs, or null when there is none to run (none set, NONE, an unknown kind).</summary>
    public static List<string>? CommandOf(HealthConfig? config, List<string>? shell) => config?.Test switch
    {
        ["CMD", .. var args] when args.Count > 0 => args,
        ["CMD-SHELL", .. var args] when args.Count > 0 => [.. shell is { Count: > 0 } ? shell : ["/bin/sh", "-c"], .. args],
        _ => null,
    };

    /// <summary>
    /// The container has just started (or was found running after a berthd restart): its health is "starting" again
    /// (its log kept) and its checks begin. Nothing when it has no health check.
    /// </summary>
    public void Start(ContainerRecordFile record, ContainerConfig merged, string bundle)
    {
        if (CommandOf(merged.Healthcheck, merged.Shell) is not { } command || _disposed) return;
        Stop(record.Id);
        var health = new ContainerHealth { Status = "starting", FailingStreak = 0, Log = record.State.Health?.Log ?? [] };
        record.State.Health = health;
        var stop = new CancellationTokenSource();
        _checks[record.Id] = stop;
        var config = merged.Healthcheck!;
        _ = Task.Run(() => RunAsync(record, health, config, command, bundle, stop.Token));
    }

    /// <summary>The container stopped or is being stopped: its checks end (one in flight is killed).</summary>
    public void Stop(string id)
    {
        if (_checks.TryRemove(id, out var stop)) stop.Cancel();
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var id in _checks.Keys) Stop(id);
    }

    static TimeSpan Or(long nanoseconds, TimeSpan fallback) => nanoseconds > 0 ? TimeSpan.FromTicks(nanoseconds / 100) : fallback;

    async Task RunAsync(ContainerRecordFile record, ContainerHealth health, HealthConfig config, List<string> command, string bundle, CancellationToken stop)
    {
        var started = ContainerJson.ParseTime(record.State.StartedAt);
        var interval = Or(config.Interval, DefaultInterval);
        var startPeriod = Or(config.StartPeriod, TimeSpan.Zero);
        var startInterval = Or(config.StartInterval, DefaultStartInterval);
        // As dockerd: the start interval applies inside the start period while starting; the period's end is not overslept.
        TimeSpan Next()
        {
            var elapsed = DateTimeOffset.UtcNow - started;
            if (elapsed >= startPeriod) return interval;
            var remaining = startPeriod - elapsed;
            if (remaining < interval) return remaining;
            lock (health) return health.Status == "starting" ? startInterval : interval;
        }
        try
        {
            for (;;)
            {
                await Task.Delay(Next(), stop);
                // As dockerd, a paused container is not checked (an exec into it would only time out).
                if (record.State.Status == "paused") continue;
                var begun = DateTimeOffset.UtcNow;
                var (exitCode, output) = await ProbeAsync(record, config, command, bundle, stop);
                if (stop.IsCancellationRequested) return;
                Record(record, health, config, started, startPeriod, new HealthcheckResult
                {
                    Start = ContainerJson.Rfc3339Nano(begun),
                    End = ContainerJson.Rfc3339Nano(DateTimeOffset.UtcNow),
                    ExitCode = exitCode,
                    Output = output,
                }, begun);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        catch (Exception e)
        {
            log.Error("the health checks of the container stopped", ("id", record.Id), ("error", e.Message));
        }
    }

    void Record(ContainerRecordFile record, ContainerHealth health, HealthConfig config, DateTimeOffset started, TimeSpan startPeriod,
        HealthcheckResult result, DateTimeOffset begun)
    {
        string before, after;
        lock (health)
        {
            before = health.Status;
            // A new list each time: a record being serialised meanwhile sees the old or the new one, never a torn one.
            List<HealthcheckResult> entries = [.. health.Log ?? [], result];
            health.Log = entries.Count > MaxLogEntries ? entries[^MaxLogEntries..] : entries;
            if (result.ExitCode == 0)
            {
                health.FailingStreak = 0;
                health.Status = "healthy";
            }
            else if (!(health.Status == "starting" && begun - started < startPeriod))
            {
                health.FailingStreak++;
                if (health.FailingStreak >= (config.Retries > 0 ? config.Retries : DefaultRetries)) health.Status = "unhealthy";
            }
            after = health.Status;
        }
        if (before != after)
        {
            log.Info("container health changed", ("id", record.Id), ("health", after));
            publish(record, "health_status: " + after, null);
        }
    }

    /// <summary>
    /// One run of the check: its exit code and output (at most 4096 bytes, then "..."), or -1 and why. As dockerd's
    /// probe, an exec with its exec_create and exec_start events, and exec_die once its exit is known.
    /// </summary>
    async Task<(int ExitCode, string Output)> ProbeAsync(ContainerRecordFile record, HealthConfig config, List<string> command, string bundle, CancellationToken stop)
    {
        MonitorClient monitor;
        int pid;
        Stream stream;
        string execId = ContainerNames.NewId();
        try
        {
            monitor = runner.Monitor(record.Id);
            var process = ExecService.ProcessFor(bundle, record, new ExecCreateRequest { Cmd = command });
            publish(record, ExecEvents.Create(command), ExecEvents.Attributes(execId));
            publish(record, ExecEvents.Start(command), ExecEvents.Attributes(execId));
            (pid, stream) = await Task.Run(() => monitor.Exec(process, tty: false, stdin: false), stop).WaitAsync(ExecBound, stop);
        }
        catch (Exception e) when (e is MonitorException or ContainerRunnerException or Engine.ContainerConfigException or IOException or TimeoutException)
        {
            return (-1, e is TimeoutException ? $"timed out starting health check for container {record.Id}" : e.Message);
        }
        var output = new LimitedOutput(MaxOutput);
        var timeout = Or(config.Timeout, DefaultTimeout);
        var reading = Task.Run(() => Demultiplex(stream, output));
        try
        {
            bool timedOut = false;
            try
            {
                await reading.WaitAsync(timeout, stop);
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            catch (OperationCanceledException)
            {
                KillTree(pid);
                PublishDie(record, execId, await Collect(monitor, pid, reading));
                return (-1, "");
            }
            if (timedOut)
            {
                log.Debug("health check took too long: killing it", ("id", record.Id), ("pid", pid));
                KillTree(pid);
                PublishDie(record, execId, await Collect(monitor, pid, reading));
                string limit = GoDuration(timeout);
                string text = output.ToString();
                return (-1, text.Length > 0 ? $"Health check exceeded timeout ({limit}): {text}" : $"Health check exceeded timeout ({limit})");
            }
            int code = await Task.Run(() => monitor.ExecWait(pid, ExecBound));
            PublishDie(record, execId, code);
            return (code, output.ToString());
        }
        catch (Exception e) when (e is MonitorException or IOException)
        {
            return (-1, e.Message);
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    /// <summary>exec_die, when the probe's exit is known (not when the container ended with it).</summary>
    void PublishDie(ContainerRecordFile record, string execId, int? exitCode)
    {
        if (exitCode is { } code) publish(record, ExecEvents.Die, ExecEvents.Attributes(execId, code));
    }

    /// <summary>After a kill: the output's end and the exit's reaping by the monitor, bounded; the exit code, when there was one to reap.</summary>
    static async Task<int?> Collect(MonitorClient monitor, int pid, Task reading)
    {
        try
        {
            await reading.WaitAsync(ExecBound);
            return await Task.Run(() => monitor.ExecWait(pid, ExecBound));
        }
        catch (Exception e) when (e is MonitorException or IOException or TimeoutException)
        {
            return null; // The container ended with it; nothing is left to reap.
        }
    }

    /// <summary>
    /// SIGKILL to the check and every process it started (a shell's children would be left running in the container),
    /// the children found first, through /proc's children lists.
    /// </summary>
    static void KillTree(int pid)
    {
        var all = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.Count > 0 && all.Count < 4096)
        {
            int p = queue.Dequeue();
            all.Add(p);
            try
            {
                foreach (var task in Directory.EnumerateDirectories($"/proc/{p}/task"))
                    foreach (var child in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        if (int.TryParse(child, NumberStyles.None, CultureInfo.InvariantCulture, out int c)) queue.Enqueue(c);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone already.
            }
        }
        foreach (int p in all) Libc.kill(p, 9);
    }

    /// <summary>Docker's multiplexed frames (8-byte header: stream, 0, 0, 0, length big-endian) into one buffer, to EOF.</summary>
    static void Demultiplex(Stream stream, LimitedOutput output)
    {
        var header = new byte[8];
        var buffer = new byte[16384];
        try
        {
            for (;;)
            {
                stream.ReadExactly(header);
                int length = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
                while (length > 0)
                {
                    int n = stream.Read(buffer, 0, Math.Min(length, buffer.Length));
                    if (n == 0) return;
                    output.Write(buffer.AsSpan(0, n));
                    length -= n;
                }
            }
        }
        catch (EndOfStreamException)
        {
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Go's time.Duration text for the whole durations a timeout has: 500ms, 30s, 1m30s, 1h0m0s, 1.5s.</summary>
    public static string GoDuration(TimeSpan d)
    {
        if (d < TimeSpan.FromSeconds(1))
        {
            double ms = d.Ticks / (double)TimeSpan.TicksPerMillisecond;
            if (ms >= 1) return ms.ToString("0.######", CultureInfo.InvariantCulture) + "ms";
            double us = d.Ticks / 10.0;
            return us >= 1 ? us.ToString("0.###", CultureInfo.InvariantCulture) + "µs" : (d.Ticks * 100).ToString(CultureInfo.InvariantCulture) + "ns";
        }
        var text = new StringBuilder();
        if (d.TotalHours >= 1) text.Append((long)d.TotalHours).Append('h');
        if (d.TotalMinutes >= 1) text.Append(d.Minutes).Append('m');
        double seconds = d.Seconds + (d.Ticks % TimeSpan.TicksPerSecond) / (double)TimeSpan.TicksPerSecond;
        return text.Append(seconds.ToString("0.#########", CultureInfo.InvariantCulture)).Append('s').ToString();
    }

    /// <summary>dockerd's limitedBuffer: the first bytes up to the limit, "..." appended when more came.</summary>
    sealed class LimitedOutput(int limit)
    {
        readonly MemoryStream _bytes = new();
        bool _truncated;

        public void Write(ReadOnlySpan<byte> data)
        {
            lock (_bytes)
            {
                int keep = (int)Math.Min(limit - _bytes.Length, data.Length);
                if (keep > 0) _bytes.Write(data[..keep]);
                if (keep < data.Length) _truncated = true;
            }
        }

        public override string ToString()
        {
            lock (_bytes) return Encoding.UTF8.GetString(_bytes.GetBuffer(), 0, (int)_bytes.Length) + (_truncated ? "..." : "");
        }
    }
}
