using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>Lifecycle transitions off the happy path, and many containers at once.</summary>
public sealed class LifecycleEdgeTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>Gone, or a zombie nobody reaped yet (init's parent is the host's pid 1 once the runtime exited).</summary>
    private static bool IsDead(int pid)
    {
        try
        {
            var state = File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("State:", StringComparison.Ordinal));
            return state.Contains('Z') || state.Contains('X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private void CreateSleeper()
    {
        var create = Create(Specs.Default("sleep", "1000"));
        Assert.True(create.Succeeded, "create failed: " + create);
    }

    /// <summary>
    /// A runtime started with its stdio closed (a supervisor's `0<&-`) must not take fd 0, 1 or 2 for files of its own:
    /// the fd of exec.fifo ended up as 0 there, which init took for "no start barrier" (and 0 was the Fd type's
    /// "invalid", so such an fd was never closed). The container must wait for `start`, and get /dev/null as stdio.
    /// </summary>
    // runc 1.1.5 hands its own fds to the container as stdio then (/sys/fs/cgroup, an epoll fd and a pipe, seen here).
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void ACreateWithClosedStdio_StillWaitsForStart_AndGivesTheContainerDevNull()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "exec \"$@\" <&- >&- 2>&-", "sh", RuntimeBinary.Path, "--root", StateRoot, "create", "--bundle", Bundle.Path, Id })
            start.ArgumentList.Add(a);
        using (var create = System.Diagnostics.Process.Start(start)!)
        {
            Assert.True(create.WaitForExit(TimeSpan.FromSeconds(30)), "create with closed stdio did not finish");
            Assert.Equal(0, create.ExitCode);
        }

        Assert.Equal("created", Status());
        Assert.True(Runtime.Run("start", Id).Succeeded);
        WaitForStatus("running");
        var fds = Runtime.Run("exec", Id, "sh", "-c", "for f in 0 1 2; do readlink /proc/1/fd/$f; done");
        Assert.True(fds.Succeeded, fds.ToString());
        Assert.Equal(["/dev/null", "/dev/null", "/dev/null"], fds.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableFact]
    public void DeleteWithoutForce_OfACreatedContainer_KillsItsInit()
    {
        CreateSleeper();
        var pid = Pid();
        Assert.False(IsDead(pid));

        var delete = Runtime.Run("delete", Id);

        Assert.True(delete.Succeeded, "delete of a created container failed: " + delete);
        Eventually(() => IsDead(pid), $"init {pid} to die");
        Assert.False(State().Succeeded, "state still works after delete");
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void StartTwice_FailsTheSecondTime()
    {
        CreateSleeper();
        Assert.True(Runtime.Run("start", Id).Succeeded);

        var second = Runtime.Run("start", Id);

        Assert.False(second.Succeeded, "a second start succeeded: " + second);
        Assert.False(string.IsNullOrWhiteSpace(second.Stderr), "no error message on stderr");
        Assert.Equal("running", Status());
    }

    [SkippableFact]
    public void KillOfAStoppedContainer_Fails()
    {
        CreateSleeper();
        Assert.True(Runtime.Run("start", Id).Succeeded);
        Assert.True(Runtime.Run("kill", Id, "KILL").Succeeded);
        WaitForStatus("stopped");

        var kill = Runtime.Run("kill", Id, "KILL");

        Assert.False(kill.Succeeded, "kill of a stopped container succeeded: " + kill);
        Assert.False(string.IsNullOrWhiteSpace(kill.Stderr), "no error message on stderr");
    }

    // runc 1.1.5 says "cannot start an already running container" and "container not running", without the id.
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void SecondStart_AndKillOfAStoppedContainer_NameTheContainerAndItsState()
    {
        CreateSleeper();
        Assert.True(Runtime.Run("start", Id).Succeeded);

        var start = Runtime.Run("start", Id);
        Assert.Contains(Id, start.Stderr);
        Assert.Contains("running", start.Stderr);

        Assert.True(Runtime.Run("kill", Id, "KILL").Succeeded);
        WaitForStatus("stopped");
        var kill = Runtime.Run("kill", Id, "KILL");
        Assert.Contains(Id, kill.Stderr);
        Assert.Contains("not running", kill.Stderr);
    }

    [SkippableFact]
    public void InitKilledFromOutside_IsStopped_AndDeleteCleansUp()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        var pid = Pid();

        System.Diagnostics.Process.GetProcessById(pid).Kill();
        Eventually(() => IsDead(pid), $"init {pid} to die");

        var state = StateJson();
        Assert.Equal("stopped", (string?)state["status"]);
        var delete = Runtime.Run("delete", Id);
        Assert.True(delete.Succeeded, "delete of the stopped container failed: " + delete);
        Leaks.AssertClean();
    }

    [SkippableFact]
    public async Task TenContainers_CreatedAndDeletedInParallel()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var ids = Enumerable.Range(0, 10).Select(i => i == 0 ? Id : TrackId(NewId())).ToList();

        var creates = await Task.WhenAll(ids.Select(id => Runtime.RunAsync(["create", "--bundle", Bundle.Path, id])));

        Assert.All(creates, r => Assert.True(r.Succeeded, "a parallel create failed: " + r));
        Assert.All(ids, id => Assert.Equal("created", Status(id)));
        var pids = ids.Select(id => Pid(id)).ToList();
        Assert.Equal(10, pids.Distinct().Count());

        var deletes = await Task.WhenAll(ids.Select(id => Runtime.RunAsync(["delete", id])));

        Assert.All(deletes, r => Assert.True(r.Succeeded, "a parallel delete failed: " + r));
        Assert.All(ids, id => Assert.False(State(id).Succeeded, $"{id} still exists"));
        Leaks.AssertClean();
    }
}
