using System.Security.Cryptography;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>
/// Two runtime processes that live as long as a test, so that their own fds can be counted while the test works: a
/// foreground `run` waiting for its container, and `events --interval 100ms` on another container (it reloads the
/// container and reads its cgroups ten times a second). They have their own work directory, state root and leak
/// check, apart from the test's.
/// </summary>
public sealed class LongRunningRuntimes : IDisposable
{
    const string Interval = "100ms";
    static readonly TimeSpan Lifetime = TimeSpan.FromHours(3);

    readonly string _workDirectory;
    readonly RuntimeRunner _runtime;
    readonly LeakCheck _leaks;
    readonly string _runId, _eventsId;
    readonly Task<RuntimeResult> _run, _events;

    public LongRunningRuntimes(ITestOutputHelper output)
    {
        string name = "bt-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        _workDirectory = Path.Combine("/tmp/berth-it", name);
        Bundle.CreateDirectory(_workDirectory);
        string stateRoot = Path.Combine(_workDirectory, "state");
        Directory.CreateDirectory(stateRoot);
        var bundle = new Bundle(Path.Combine(_workDirectory, "bundle"));
        bundle.WriteConfig(Specs.Default("sleep", "100000"));
        _runtime = new RuntimeRunner(stateRoot, Path.Combine(_workDirectory, "io"), output);
        Name = name;
        (_runId, _eventsId) = (name + "-run", name + "-events");
        _leaks = new LeakCheck(name, _workDirectory, stateRoot, bundle.Rootfs) { IncludeDerivedIds = true };

        _run = _runtime.RunAsync(["run", "--bundle", bundle.Path, _runId], timeout: Lifetime);
        var detached = _runtime.Run("run", "-d", "--bundle", bundle.Path, _eventsId);
        Assert.True(detached.Succeeded, detached.ToString());
        _events = _runtime.RunAsync(["events", "--interval", Interval, _eventsId], timeout: Lifetime);

        RunPid = WaitFor(() => InitPid(_runId) is int init && init > 0 ? ParentOf(init) : null, "the foreground run's container");
        EventsPid = WaitFor(() => FindProcess("events", _eventsId), "the events process");
    }

    /// <summary>What the two containers' ids start with ("NAME-run", "NAME-events").</summary>
    public string Name { get; }

    /// <summary>The runtime process of the foreground `run` (its container's init's parent).</summary>
    public int RunPid { get; }

    public int EventsPid { get; }

    /// <summary>The fds of a process: their number, and what they point at (for the failure message).</summary>
    public static (int Count, string Listing) Fds(int pid)
    {
        var targets = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                targets.Add($"{Path.GetFileName(fd)} -> {new FileInfo(fd).LinkTarget}");
            }
            catch (IOException)
            {
                // closed while we listed
            }
        }
        return (targets.Count, string.Join(", ", targets.OrderBy(t => int.Parse(t[..t.IndexOf(' ')]))));
    }

    /// <summary>The smallest fd count over a few samples: the events process opens cgroup files for a moment each interval.</summary>
    public static (int Count, string Listing) SteadyFds(int pid)
    {
        var best = Fds(pid);
        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(70);
            var now = Fds(pid);
            if (now.Count < best.Count) best = now;
        }
        return best;
    }

    int? InitPid(string id)
    {
        var state = _runtime.Run("state", id);
        return state.Succeeded ? (int?)System.Text.Json.Nodes.JsonNode.Parse(state.Stdout)!["pid"] : null;
    }

    static int? ParentOf(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("PPid:", StringComparison.Ordinal));
        return line is null ? null : int.Parse(line[5..].Trim());
    }

    static int? FindProcess(string verb, string id)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (args.Contains(verb) && args.Contains(id) && args[0] == RuntimeBinary.Path) return pid;
            }
            catch (IOException)
            {
                // exited
            }
        }
        return null;
    }

    static int WaitFor(Func<int?> find, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (find() is int pid) return pid;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"{what} did not show up within 30 s");
    }

    public void Dispose()
    {
        _runtime.Run("kill", _runId, "KILL");
        _runtime.Run("delete", "--force", _eventsId);
        var run = _run.Wait(TimeSpan.FromSeconds(30)) ? _run.Result : null;
        var events = _events.Wait(TimeSpan.FromSeconds(30)) ? _events.Result : null;
        _runtime.Run("delete", "--force", _runId);
        var leaks = _leaks.WaitForClean(TimeSpan.FromSeconds(10));
        if (leaks.Count > 0) _leaks.Reap();
        if (!_leaks.HasNewMounts) Directory.Delete(_workDirectory, recursive: true);
        Assert.True(run is { TimedOut: false }, $"the foreground run did not end after its container was killed: {run}");
        Assert.True(events is { TimedOut: false }, $"events did not end after its container was deleted: {events}");
        Assert.True(leaks.Count == 0, "the long-running containers left behind:\n  " + string.Join("\n  ", leaks));
    }
}
