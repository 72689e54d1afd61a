using Xunit.Abstractions;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// One client engine with private state, shared by the scenarios of a test class (an xunit class fixture). It is
/// set up by the first test that needs it (not in the constructor, so a non-root run skips instead of failing)
/// and torn down once when the class is done; a failed setup fails every test of the class with the same error.
/// </summary>
public abstract class ClientEnvironment : IDisposable
{
    private readonly Lazy<bool> _started;
    private readonly List<string> _setupLog = [];
    private ScratchDirectory? _scratch;

    protected ClientEnvironment(string name)
    {
        Name = name;
        _started = new Lazy<bool>(() =>
        {
            _scratch = new ScratchDirectory(name);
            Start();
            return true;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Name { get; }

    /// <summary>The private directory holding this engine's state, sockets and image files.</summary>
    public ScratchDirectory Scratch => _scratch ?? throw new InvalidOperationException($"{Name}: not started");

    /// <summary>The cgroup parent this engine's containers (and monitors) go under, removed at the end.</summary>
    public string CgroupParent => "/berth-clients-" + System.IO.Path.GetFileName(Scratch.Path);

    /// <summary>Skips on a non-root run, fails on a missing runtime, and starts the engine the first time.</summary>
    public void EnsureStarted(ITestOutputHelper output)
    {
        Requirements.Root(output);
        ComparedRuntimes.EnsureExist();
        try
        {
            _ = _started.Value;
        }
        finally
        {
            lock (_setupLog)
            {
                foreach (var line in _setupLog)
                    output.WriteLine("[setup] " + line);
            }
        }
    }

    /// <summary>Logs a setup or teardown command (shown in every test's output).</summary>
    protected void SetupLog(string line)
    {
        lock (_setupLog)
            _setupLog.Add(line);
    }

    protected abstract void Start();

    /// <summary>Stops the engine and removes the containers it still has; the scratch directory goes after.</summary>
    protected abstract void Stop();

    public void Dispose()
    {
        if (!_started.IsValueCreated && _scratch is null)
            return;
        var problems = new List<string>();
        try
        {
            Stop();
        }
        catch (Exception e)
        {
            problems.Add($"stopping {Name}: {e.Message}");
        }
        _scratch?.Dispose();
        if (_scratch is not null)
        {
            foreach (var left in Cgroups.RemoveEverywhere(CgroupParent))
                problems.Add($"cgroup still busy: {left}");
        }
        GC.SuppressFinalize(this);
        if (problems.Count > 0)
            throw new InvalidOperationException($"{Name} left things behind:\n{string.Join("\n", problems)}");
    }

    /// <summary>A container name unique to this run, scenario and runtime.</summary>
    public static string ContainerName(string scenario, RuntimeUnderTest runtime) =>
        $"bc-{scenario}-{(runtime == ComparedRuntimes.Berth ? "berth" : "runc")}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds or <paramref name="timeout"/> passes.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
                return true;
            Thread.Sleep(100);
        }
        return condition();
    }
}
