using Berth.Integration.Tests.Infrastructure;
using Berth.Reliability.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests;

/// <summary>
/// The runtime SIGKILLed (an OOM kill, a supervisor's timeout) at each phase of create, start, exec and delete, then
/// `delete --force`: nothing is left (cgroups, processes, state, mounts), nothing hangs, and `state` and `list` agree
/// with each other before and after.
/// Each phase is hit exactly, not by timing: the runtime runs under a ptrace helper that kills it at the system call
/// that marks the phase (<see cref="KillAtSyscall"/>). That traces the published binary as it ships, needs no
/// test-only build of it, and fails loudly ("never reached") when the runtime's calls change, so that a rule cannot
/// silently stop testing anything. KilledRuntimeTests in the integration suite kills at random moments instead.
/// </summary>
[Trait("runc-compatible", "false")] // the rules name berth-runtime's own calls
public sealed class KilledAtPhaseTests(ITestOutputHelper output) : ContainerTest(output)
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // Rules: WHEN:WHO:SYSCALL:NTH:MATCH (native/kill-at-syscall.c). {state} is the container's state directory.
    // The init channel's messages (InitWire) begin with the format's version byte, 1, and a tag: Q for the request, R for a report.
    static readonly Dictionary<string, string> Rules = new()
    {
        ["create: before the claim of the id"] = "enter:runtime:mkdir:1:/.claim-",
        ["create: after the claim, before state.json"] = "exit:runtime:rename:1:/.claim-",
        // A state write swaps its new file in with renameat2(RENAME_EXCHANGE); the first, with nothing to swap, fails
        // (ENOENT) and renames: so the first record is the second rename. The cgroups made are recorded again only when
        // they differ from the first record's list (not here), so init's pid, the second record, is the third rename.
        ["create: state recorded, no cgroup made"] = "exit:runtime:rename:2:path2={state}/state.json",
        ["create: between two cgroup mkdirs"] = "exit:runtime:mkdir:2:path=/sys/fs/cgroup/",
        ["create: cgroups made and configured"] = "enter:runtime:mknod:1:{state}/exec.fifo",
        ["create: before the clone of init"] = "enter:runtime:clone:1:clone process",
        ["create: after the clone, before the handshake"] = "exit:runtime:clone:1:clone process",
        // The spawn stage places itself: "0" to each v1 tasks file (a cgroup2 one by clone3, or its cgroup.procs).
        ["create: init placed in its first cgroup"] = "exit:descendant:write:1:/tasks",
        ["create: after the handshake"] = "exit:runtime:write:1:fd=socket:&&data=\"g\"",
        ["create: init's pid recorded"] = "exit:runtime:rename:3:path2={state}/state.json",
        ["create: config sent to init"] = "exit:runtime:write:1:fd=socket:&&data=\"\\x01Q",
        ["create: init reported ready"] = "exit:runtime:read:1:fd=socket:&&data=\"\\x01R&&ready",
        ["start: before exec.fifo is opened"] = "enter:runtime:open:1:{state}/exec.fifo",
        ["start: exec.fifo opened, init released"] = "exit:runtime:open:1:{state}/exec.fifo",
        ["start: init's byte read"] = "exit:runtime:read:1:{state}/exec.fifo",
        ["start: before exec.fifo is removed"] = "enter:runtime:unlink:1:{state}/exec.fifo",
        ["exec: before the spawn"] = "enter:runtime:clone:1:clone process",
        ["exec: after the spawn, before the handshake"] = "exit:runtime:clone:1:clone process",
        ["exec: after the re-exec of the sealed copy"] = "exit:descendant:execve:1",
        ["exec: placed in the container's first cgroup"] = "exit:descendant:write:1:/tasks",
        ["exec: after the handshake"] = "exit:runtime:write:1:fd=socket:&&data=\"g\"",
        ["exec: the process exec'd its program"] = "exit:descendant:execve:2",
        ["delete: after the SIGKILL of init"] = "exit:runtime:kill:1:signal=9",
        ["delete: before the cgroups are removed"] = "enter:runtime:rmdir:1:path=/sys/fs/cgroup/",
        ["delete: between two cgroup removals"] = "exit:runtime:rmdir:2:path=/sys/fs/cgroup/",
        ["delete: cgroups removed, before the state"] = "enter:runtime:unlink:1:{state}/",
        ["delete: state partly removed"] = "exit:runtime:unlink:1:{state}/",
    };

    public static TheoryData<string> Phases(string command) => new(Rules.Keys.Where(k => k.StartsWith(command + ":", StringComparison.Ordinal)));

    public static TheoryData<string> CreatePhases => Phases("create");
    public static TheoryData<string> StartPhases => Phases("start");
    public static TheoryData<string> ExecPhases => Phases("exec");
    public static TheoryData<string> DeletePhases => Phases("delete");

    TracedResult KillAt(string phase, params string[] arguments)
    {
        var point = new FaultPoint(phase, Rules[phase].Replace("{state}", Path.Combine(StateRoot, Id)));
        var traced = new KillAtSyscall(StateRoot, Path.Combine(WorkDirectory, "io"), Output).Run(point, Bound, arguments);
        Output.WriteLine($"{phase}: {traced.Report}");
        Assert.False(traced.Result.TimedOut, $"{phase}: the traced command hung: {traced.Result}");
        Assert.True(traced.Hit, $"{phase}: the fault point ({point.Rule}) was never reached, so nothing was tested; " +
            $"the runtime's calls changed? {traced.Report}\n{traced.Result}");
        Assert.Equal(137, traced.Result.ExitCode); // 128 + SIGKILL
        return traced;
    }

    RuntimeResult Bounded(params string[] arguments)
    {
        var result = Runtime.Run(arguments, globalArguments: null, timeout: Bound);
        Assert.False(result.TimedOut, $"hung after the runtime was killed: {result}");
        ErrorLines.AssertClear(result);
        return result;
    }

    string? AssertStateAndListAgree() => StateAndList.Agree(Runtime, Id, Bound);

    void AssertDeleteForceLeavesNothing()
    {
        var delete = Bounded("delete", "--force", Id);
        Assert.True(delete.Succeeded, delete.ToString());
        Assert.Null(AssertStateAndListAgree());
        Leaks.AssertClean(TimeSpan.FromSeconds(10));
    }

    void CreateAndStart()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("create", "--bundle", Bundle.Path, Id).Succeeded);
        Assert.True(Runtime.Run("start", Id).Succeeded);
    }

    [SkippableTheory]
    [MemberData(nameof(CreatePhases))]
    public void ACreateKilledAt(string phase)
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        KillAt(phase, "create", "--bundle", Bundle.Path, Id);

        var status = AssertStateAndListAgree();
        Output.WriteLine($"after the kill: {status ?? "no container"}");
        // A create that died before init was ready left no init that could be started; after, the container exists.
        string[] allowed = phase == "create: init reported ready" ? ["created", "stopped"] : ["stopped"];
        Assert.True(status is null || allowed.Contains(status), $"a create killed at \"{phase}\" left a container that is {status}");
        AssertDeleteForceLeavesNothing();
    }

    [SkippableTheory]
    [MemberData(nameof(StartPhases))]
    public void AStartKilledAt(string phase)
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("create", "--bundle", Bundle.Path, Id).Succeeded);
        KillAt(phase, "start", Id);

        var status = AssertStateAndListAgree();
        Output.WriteLine($"after the kill: {status}");
        // Whether init was released or not, a second start finishes the job or says why not, without waiting forever.
        var again = Bounded("start", Id);
        Output.WriteLine($"start again: {again}");
        Assert.Equal("running", AssertStateAndListAgree());
        Assert.True(Runtime.Run("exec", Id, "true").Succeeded, "the container does not take an exec");
        AssertDeleteForceLeavesNothing();
    }

    [SkippableTheory]
    [MemberData(nameof(ExecPhases))]
    public void AnExecKilledAt(string phase)
    {
        CreateAndStart();
        KillAt(phase, "exec", Id, "sleep", "1000");

        Assert.Equal("running", AssertStateAndListAgree());
        var exec = Bounded("exec", Id, "echo", "still-works");
        Assert.True(exec.Succeeded, exec.ToString());
        Assert.Contains("still-works", exec.Stdout);
        AssertDeleteForceLeavesNothing();
    }

    [SkippableTheory]
    [MemberData(nameof(DeletePhases))]
    public void ADeleteKilledAt(string phase)
    {
        CreateAndStart();
        KillAt(phase, "delete", "--force", Id);

        var status = AssertStateAndListAgree();
        Output.WriteLine($"after the kill: {status ?? "no container"}");
        Assert.True(status is null or "stopped", $"a killed delete --force left a container that is {status}");
        AssertDeleteForceLeavesNothing();
    }
}
