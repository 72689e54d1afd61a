using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// Per-test fixture: a unique container id ("bt-..."), a work directory holding the bundle, the state root and
/// the runtime's stdio files, and a leak check. Dispose force-deletes the container (also after a failure),
/// stops helper processes, asserts nothing leaked, then removes the work directory.
/// </summary>
public abstract class ContainerTest : IDisposable
{
    private const string WorkRoot = "/tmp/berth-it";
    private readonly List<Process> _helpers = [];
    private readonly List<string> _ids = [];
    private bool _disposed;

    protected ContainerTest(ITestOutputHelper output)
    {
        Output = output;
        Requirements.Root(output);
        RuntimeBinary.EnsureExists();

        Id = NewId();
        Bundle.CreateDirectory(WorkRoot);
        WorkDirectory = Path.Combine(WorkRoot, Id);
        Bundle.CreateDirectory(WorkDirectory);
        StateRoot = Path.Combine(WorkDirectory, "state");
        Directory.CreateDirectory(StateRoot);
        Bundle = new Bundle(Path.Combine(WorkDirectory, "bundle"));
        var ioDirectory = Path.Combine(WorkDirectory, "io");
        Directory.CreateDirectory(ioDirectory);
        Runtime = new RuntimeRunner(StateRoot, ioDirectory, output);
        Leaks = new LeakCheck(Id, WorkDirectory, StateRoot, Bundle.Rootfs);
        _ids.Add(Id);
        output.WriteLine($"runtime {RuntimeBinary.Path}, container {Id}, work dir {WorkDirectory}");
    }

    protected ITestOutputHelper Output { get; }
    protected string Id { get; }
    protected string WorkDirectory { get; }
    protected string StateRoot { get; }
    protected Bundle Bundle { get; }
    protected RuntimeRunner Runtime { get; }
    protected LeakCheck Leaks { get; }

    protected static string NewId() => "bt-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    /// <summary>Registers another container id this test uses, so Dispose deletes it and checks its cgroups.</summary>
    protected string TrackId(string id)
    {
        _ids.Add(id);
        Leaks.ExtraIds.Add(id);
        return id;
    }

    /// <summary>
    /// For a test whose container makes the runtime enable a controller in a cgroup2 ancestor's
    /// <paramref name="subtreeControl"/>, which the runtime leaves enabled as runc does (any other cgroup below may
    /// use it by then): Dispose disables again what the test added, after the delete, and the leak check compares
    /// the file with what it held now.
    /// </summary>
    protected void RestoreSubtreeControlAfterwards(string subtreeControl) => Leaks.WatchSubtreeControl(subtreeControl);

    /// <summary>A host directory in the test's work dir (not inside the bundle), mode 0755.</summary>
    protected string HostDirectory(string name)
    {
        var path = Path.Combine(WorkDirectory, name);
        Bundle.CreateDirectory(path);
        return path;
    }

    /// <summary>Writes config.json and runs the container in the foreground (<c>run --bundle</c>).</summary>
    protected RuntimeResult RunContainer(JsonObject spec, string? id = null)
    {
        Bundle.WriteConfig(spec);
        return Runtime.Run("run", "--bundle", Bundle.Path, id ?? Id);
    }

    /// <summary>Runs a shell script in a container built from <paramref name="spec"/> and asserts it exited 0.</summary>
    protected string RunShell(JsonObject spec)
    {
        var result = RunContainer(spec);
        Assert.True(result.Succeeded, "container run failed: " + result);
        return result.Stdout;
    }

    protected RuntimeResult Create(JsonObject spec, params string[] extraArguments)
    {
        Bundle.WriteConfig(spec);
        return Runtime.Run(["create", "--bundle", Bundle.Path, .. extraArguments, Id]);
    }

    protected RuntimeResult State(string? id = null) => Runtime.Run("state", id ?? Id);

    /// <summary>The parsed <c>state</c> output; fails the test if the call fails.</summary>
    protected JsonObject StateJson(string? id = null)
    {
        var result = State(id);
        Assert.True(result.Succeeded, "state failed: " + result);
        return JsonNode.Parse(result.Stdout)!.AsObject();
    }

    protected string Status(string? id = null) => (string)StateJson(id)["status"]!;

    protected int Pid(string? id = null) => (int)StateJson(id)["pid"]!;

    /// <summary>Polls <c>state</c> until the container reaches <paramref name="status"/>.</summary>
    protected void WaitForStatus(string status, string? id = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        string current;
        while ((current = Status(id)) != status)
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"container {id ?? Id} is '{current}', expected '{status}'");
            Thread.Sleep(100);
        }
    }

    /// <summary>Starts a helper process on the host that Dispose kills (e.g. a namespace holder).</summary>
    protected Process StartHelper(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        _helpers.Add(process);
        return process;
    }

    protected static string HostReadLink(string path) => new FileInfo(path).LinkTarget ?? throw new IOException($"{path} is not a link");

    protected static void Eventually(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Eventually(condition, () => "timed out waiting for: " + what, timeout);

    /// <summary>As above, with the failure message made at the timeout (for state worth showing then).</summary>
    protected static void Eventually(Func<bool> condition, Func<string> failure, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail(failure());
            Thread.Sleep(50);
        }
    }

    protected static string ParseJsonField(string json, string field) =>
        JsonDocument.Parse(json).RootElement.GetProperty(field).ToString();

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        GC.SuppressFinalize(this);

        foreach (var id in _ids)
            Runtime.Run("delete", "--force", id);
        foreach (var helper in _helpers)
        {
            try
            {
                helper.Kill(entireProcessTree: true);
                helper.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // already exited
            }
            helper.Dispose();
        }
        foreach (var failure in Leaks.RestoreSubtreeControls())
            Output.WriteLine(failure);

        var leaks = Leaks.WaitForClean();
        if (leaks.Count > 0)
            Leaks.Reap();
        // Never rm -rf through a leaked bind mount: that would delete host files.
        if (!Leaks.HasNewMounts)
            Directory.Delete(WorkDirectory, recursive: true);
        else
            Output.WriteLine($"work dir {WorkDirectory} kept: mounts under it remain");
        if (leaks.Count > 0)
            Assert.Fail("left behind on the host (processes and cgroups reaped since):\n  " + string.Join("\n  ", leaks));
    }
}
