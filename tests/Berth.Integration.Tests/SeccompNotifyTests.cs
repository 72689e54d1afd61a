using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// SCMP_ACT_NOTIFY: the runtime sends the notify fd with the container process state to linux.seccomp.listenerPath,
/// and an agent there (in the test process) decides what the container's syscalls return.
/// </summary>
public sealed class SeccompNotifyTests(ITestOutputHelper output) : ContainerTest(output)
{
    const int EXDEV = 18;
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    string AgentPath => Path.Combine(WorkDirectory, "agent.sock");

    JsonObject NotifySpec(string script, bool noNewPrivileges, string? listenerPath, params string[] notified)
    {
        var spec = Specs.Shell(script);
        spec.Process()["noNewPrivileges"] = noNewPrivileges;
        var profile = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["listenerMetadata"] = "bar",
            ["architectures"] = Specs.Strings("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
            ["syscalls"] = new JsonArray(new JsonObject { ["names"] = Specs.Strings(notified), ["action"] = "SCMP_ACT_NOTIFY" }),
        };
        if (listenerPath is not null) profile["listenerPath"] = listenerPath;
        spec.Linux()["seccomp"] = profile;
        return spec;
    }

    // The filter is installed at two places in init, before or after the user switch, by noNewPrivileges.
    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void Agent_GetsTheStateAndTheFd_AndChoosesTheErrno(bool noNewPrivileges)
    {
        using var agent = new SeccompAgent(AgentPath, _ => (0, EXDEV));

        var result = RunContainer(NotifySpec("mkdir /dev/shm/x; echo rc=$?; test -d /dev/shm/x || echo absent", noNewPrivileges, AgentPath, "mkdir", "mkdirat"));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("Invalid cross-device link", result.Stderr); // EXDEV, the agent's choice
        Assert.Contains("rc=1", result.Stdout);
        Assert.Contains("absent", result.Stdout);
        Assert.True(agent.Notifications >= 1, $"the agent answered {agent.Notifications} notifications");

        var state = agent.ReceivedState(Timeout);
        Output.WriteLine(state.ToJsonString());
        Assert.Equal(["seccompFd"], state["fds"]!.AsArray().Select(f => (string)f!));
        Assert.Equal("bar", (string?)state["metadata"]);
        Assert.False(string.IsNullOrEmpty((string?)state["ociVersion"]));
        int pid = (int)state["pid"]!;
        Assert.True(pid > 1, $"pid {pid}");
        var container = state["state"]!.AsObject();
        Assert.Equal(Id, (string?)container["id"]);
        Assert.Equal(pid, (int)container["pid"]!);
        Assert.Equal("creating", (string?)container["status"]);
        Assert.Equal(Bundle.Path, (string?)container["bundle"]);
    }

    [SkippableFact]
    public void Agent_CanFakeSuccess()
    {
        using var agent = new SeccompAgent(AgentPath, _ => (0, 0));

        var result = RunContainer(NotifySpec("mkdir /dev/shm/x && echo made; test -d /dev/shm/x && echo exists || echo absent", true, AgentPath, "mkdir", "mkdirat"));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("made", result.Stdout);   // mkdir returned 0 ...
        Assert.Contains("absent", result.Stdout); // ... and never ran
    }

    [SkippableFact]
    public void NoAgentListening_FailsTheCreate_NamingTheListenerPath()
    {
        var result = RunContainer(NotifySpec("true", true, AgentPath, "mkdir"));

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains(AgentPath, result.Stderr);
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc fails too, without naming the field
    public void NotifyWithoutListenerPath_IsRefused()
    {
        var result = RunContainer(NotifySpec("true", true, null, "mkdir"));

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("linux.seccomp.listenerPath", result.Stderr);
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc refuses write only, with another message
    public void NotifyOnSendmsg_IsRefused()
    {
        using var agent = new SeccompAgent(AgentPath, _ => (0, 0));

        var result = RunContainer(NotifySpec("true", true, AgentPath, "sendmsg"));

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall", result.Stderr);
    }

    [SkippableFact]
    public void ListenerPathWithoutNotifyRules_RunsWithoutContactingIt()
    {
        // As runc: nothing can notify, so there is no fd to send; no agent listens at the path.
        var spec = Specs.Shell("echo ran");
        spec.Linux()["seccomp"] = new JsonObject { ["defaultAction"] = "SCMP_ACT_ALLOW", ["listenerPath"] = AgentPath, ["listenerMetadata"] = "bar" };

        Assert.Contains("ran", RunShell(spec));
    }

    [SkippableFact]
    public void StartContainerHook_RunsUnderTheFilter_WithoutTheNotifyFd()
    {
        using var agent = new SeccompAgent(AgentPath, _ => (0, 0));
        var spec = NotifySpec("true", true, AgentPath, "mkdir");
        // Runs in the container after the filter is installed (runc 1.1's order); it sees only stdio and the fd of
        // /proc/self/fd being listed.
        spec["hooks"] = new JsonObject
        {
            ["startContainer"] = new JsonArray(new JsonObject
            {
                ["path"] = "/bin/sh",
                ["args"] = Specs.Strings("sh", "-c", "grep -q '^Seccomp:[[:space:]]*2' /proc/self/status || { echo no filter >&2; exit 1; }; n=$(ls /proc/self/fd | wc -l); [ \"$n\" -eq 4 ] || { echo \"fds: $n\" >&2; ls -l /proc/self/fd >&2; exit 1; }"),
            }),
        };

        var result = RunContainer(spec);

        Assert.True(result.Succeeded, result.ToString());
    }

    [SkippableFact]
    public void ExecdProcess_GetsItsOwnListenerFd_ForwardedToTheAgent()
    {
        using var agent = new SeccompAgent(AgentPath, _ => (0, EXDEV));
        var create = Create(NotifySpec("sleep 100", true, AgentPath, "mkdir", "mkdirat"));
        Assert.True(create.Succeeded, "create failed: " + create);
        Assert.True(Runtime.Run("start", Id).Succeeded, "start failed");
        int initPid = (int)agent.ReceivedState(Timeout)["pid"]!;

        var exec = Runtime.Run("exec", Id, "sh", "-c", "mkdir /dev/shm/y; echo rc=$?; test -d /dev/shm/y || echo absent");

        Assert.True(exec.Succeeded, "exec failed: " + exec);
        Assert.Contains("Invalid cross-device link", exec.Stderr); // EXDEV: the agent answered the exec'd process too
        Assert.Contains("rc=1", exec.Stdout);
        Assert.Contains("absent", exec.Stdout);
        var states = agent.States;
        Assert.Equal(2, states.Count);
        var execState = states[1];
        Output.WriteLine(execState.ToJsonString());
        Assert.NotEqual(initPid, (int)execState["pid"]!); // the exec'd process, not init
        Assert.Equal(initPid, (int)execState["state"]!["pid"]!);
        Assert.Equal(Id, (string?)execState["state"]!["id"]);
        Assert.Equal("running", (string?)execState["state"]!["status"]);
        Assert.Equal("bar", (string?)execState["metadata"]);
    }
}
