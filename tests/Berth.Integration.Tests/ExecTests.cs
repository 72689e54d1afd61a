using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>`exec`: a process in every namespace and cgroup of a running container, with the process spec's (or the
/// container's) user, capabilities, rlimits, no_new_privs and seccomp filter; its exit status; its errors; escapes.</summary>
public sealed class ExecTests(ITestOutputHelper output) : ContainerTest(output)
{
    static readonly string[] NamespaceNames = ["ipc", "mnt", "net", "pid", "uts", "cgroup"];

    /// <summary>Runs a container whose init sleeps, detached, and waits until it runs.</summary>
    private int StartSleeper(JsonObject? spec = null)
    {
        Bundle.WriteConfig(spec ?? Specs.Default("sleep", "1000"));
        var result = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);
        Assert.True(result.Succeeded, "run -d failed: " + result);
        return Pid();
    }

    private RuntimeResult Exec(params string[] args) => Runtime.Run(["exec", .. args]);

    private RuntimeResult ExecIn(params string[] command) => Runtime.Run(["exec", Id, .. command]);

    private string PidFilePath(string name = "exec.pid") => Path.Combine(WorkDirectory, name);

    private static int ReadPid(string path) => int.Parse(File.ReadAllText(path).Trim());

    private static string StatusField(string status, string field) =>
        Regex.Match(status, $"(?m)^{field}:\\s+(.*)$") is { Success: true } m ? m.Groups[1].Value.Trim() : throw new InvalidOperationException($"no {field} in\n{status}");

    [SkippableFact]
    public void OutputAndExitCodeReachTheCaller()
    {
        StartSleeper();

        var result = ExecIn("sh", "-c", "echo out; echo err >&2; exit 3");

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\n", result.Stdout);
        Assert.Contains("err\n", result.Stderr);
        Assert.True(ExecIn("true").Succeeded);
    }

    [SkippableFact]
    public void KilledBySignal_Exits128PlusSignal()
    {
        StartSleeper();

        Assert.Equal(137, ExecIn("sh", "-c", "kill -9 $$").ExitCode);
    }

    [SkippableFact]
    public void ProcessIsInEveryNamespaceAndCgroupOfTheContainer()
    {
        int init = StartSleeper();
        var pidFile = PidFilePath();

        var result = Exec("--detach", "--pid-file", pidFile, Id, "sleep", "100");

        Assert.True(result.Succeeded, result.ToString());
        int pid = ReadPid(pidFile);
        foreach (var ns in NamespaceNames)
            Assert.Equal(HostReadLink($"/proc/{init}/ns/{ns}"), HostReadLink($"/proc/{pid}/ns/{ns}"));
        Assert.NotEqual(HostReadLink("/proc/self/ns/pid"), HostReadLink($"/proc/{pid}/ns/pid"));
        Assert.Equal(File.ReadAllText($"/proc/{init}/cgroup"), File.ReadAllText($"/proc/{pid}/cgroup"));
        // And it sees the container's root, not the host's.
        Assert.Equal(HostReadLink($"/proc/{init}/root"), HostReadLink($"/proc/{pid}/root"));
    }

    [SkippableFact]
    public void NamespaceLinksFromInsideMatchInit()
    {
        int init = StartSleeper();

        var result = ExecIn("sh", "-c", string.Join("; ", NamespaceNames.Select(ns => $"readlink /proc/self/ns/{ns}")));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(NamespaceNames.Select(ns => HostReadLink($"/proc/{init}/ns/{ns}")), result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableFact]
    public void EnvCwdUserAndGroupsFromFlags()
    {
        StartSleeper();

        var result = Exec("-e", "A=1", "-e", "TERM=dumb", "--cwd", "/tmp", "-u", "5:6", "-g", "7", "-g", "8", Id,
            "sh", "-c", "echo A=$A TERM=$TERM; pwd; id -u; id -g; id -G");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("A=1 TERM=dumb\n/tmp\n5\n6\n6 7 8\n", result.Stdout); // id -G lists the primary gid first
    }

    [SkippableFact]
    public void DefaultsComeFromTheContainersProcess()
    {
        var spec = Specs.Default("sleep", "1000");
        spec.Process()["env"] = Specs.Strings("PATH=/bin", "FROM_CONFIG=yes");
        spec.Process()["cwd"] = "/etc";
        spec.Process()["user"] = new JsonObject { ["uid"] = 11, ["gid"] = 12, ["additionalGids"] = new JsonArray(13) };
        StartSleeper(spec);

        var result = ExecIn("sh", "-c", "echo $FROM_CONFIG; pwd; id -u; id -g; id -G");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("yes\n/etc\n11\n12\n12 13\n", result.Stdout);
    }

    [SkippableFact]
    public void CapabilitiesMatchInitAndCapAddsToBoundingEffectivePermitted()
    {
        int init = StartSleeper();
        var initStatus = File.ReadAllText($"/proc/{init}/status");

        var plain = ExecIn("cat", "/proc/self/status");
        var added = Exec("--cap", "CAP_SYS_ADMIN", Id, "cat", "/proc/self/status");

        Assert.True(plain.Succeeded, plain.ToString());
        foreach (var field in new[] { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" })
            Assert.Equal(StatusField(initStatus, field), StatusField(plain.Stdout, field));
        Assert.True(added.Succeeded, added.ToString());
        const ulong sysAdmin = 1UL << 21;
        foreach (var field in new[] { "CapPrm", "CapEff", "CapBnd" })
            Assert.Equal(sysAdmin, Convert.ToUInt64(StatusField(added.Stdout, field), 16) & sysAdmin);
        Assert.Equal(0UL, Convert.ToUInt64(StatusField(added.Stdout, "CapInh"), 16) & sysAdmin);
    }

    [SkippableFact]
    public void NoNewPrivs_FromTheContainerOrTheFlag()
    {
        var spec = Specs.Default("sleep", "1000");
        spec.Process()["noNewPrivileges"] = false;
        StartSleeper(spec);

        var off = ExecIn("grep", "NoNewPrivs", "/proc/self/status");
        var on = Exec("--no-new-privs", Id, "grep", "NoNewPrivs", "/proc/self/status");

        Assert.Matches(@"NoNewPrivs:\s+0", off.Stdout);
        Assert.Matches(@"NoNewPrivs:\s+1", on.Stdout);
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void ContainersSeccompFilterApplies(bool noNewPrivileges)
    {
        var spec = Specs.Default("sleep", "1000");
        spec.Process()["noNewPrivileges"] = noNewPrivileges;
        spec.Linux()["seccomp"] = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["architectures"] = Specs.Strings("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
            ["syscalls"] = new JsonArray(new JsonObject { ["names"] = Specs.Strings("mkdir", "mkdirat"), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 13 }),
        };
        StartSleeper(spec);

        var result = ExecIn("sh", "-c", "grep '^Seccomp:' /proc/self/status; mkdir /dev/shm/x 2>&1; echo rc=$?; test -d /dev/shm/x && echo exists; true");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Matches(@"Seccomp:\s+2", result.Stdout);
        Assert.Contains("Permission denied", result.Stdout); // errno 13 from the profile
        Assert.Contains("rc=1", result.Stdout);
        Assert.DoesNotContain("exists", result.Stdout);
    }

    [SkippableFact]
    public void ProcessFile_RlimitsUserAndArgs()
    {
        StartSleeper();
        var file = Path.Combine(WorkDirectory, "process.json");
        File.WriteAllText(file, new JsonObject
        {
            ["args"] = Specs.Strings("sh", "-c", "ulimit -n; ulimit -Hn; id -u; echo $X"),
            ["env"] = Specs.Strings("PATH=/bin", "X=from-file"),
            ["cwd"] = "/",
            ["user"] = new JsonObject { ["uid"] = 3, ["gid"] = 3 },
            ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 77, ["hard"] = 88 }),
        }.ToJsonString());

        var result = Exec("--process", file, Id);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("77\n88\n3\nfrom-file\n", result.Stdout);
    }

    [SkippableFact]
    public void Detach_ReturnsAtOnceAndPidFileNamesTheRunningProcess()
    {
        StartSleeper();
        var pidFile = PidFilePath();

        var result = Exec("-d", "--pid-file", pidFile, Id, "sleep", "30");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(20), "exec -d waited for its process");
        int pid = ReadPid(pidFile);
        Assert.Contains("sleep", File.ReadAllText($"/proc/{pid}/cmdline"));
    }

    [SkippableFact]
    public void PreserveFds_PassesFd3()
    {
        StartSleeper();
        var file = Path.Combine(WorkDirectory, "fd3.txt");
        File.WriteAllText(file, "fd3-" + Id + "\n");

        var result = Runtime.Run(["exec", "--preserve-fds", "1", Id, "cat", "/proc/self/fd/3"], new RuntimeInvocation { InheritedFiles = [file] });
        var without = Runtime.Run(["exec", Id, "sh", "-c", "test -e /proc/self/fd/3 && echo open || echo closed"], new RuntimeInvocation { InheritedFiles = [file] });

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("fd3-" + Id + "\n", result.Stdout);
        Assert.Equal("closed\n", without.Stdout);
    }

    [SkippableFact]
    public async Task SignalsAreForwardedToTheProcess()
    {
        StartSleeper();
        var pidFile = PidFilePath();

        var running = Runtime.RunAsync(["exec", "--pid-file", pidFile, Id, "sh", "-c", "trap 'echo got-term; exit 7' TERM; while :; do sleep 0.1; done"]);
        Eventually(() => File.Exists(pidFile), "the exec's pid file");
        int pid = ReadPid(pidFile);
        int runtimePid = ParentOf(pid);
        Thread.Sleep(300); // let the shell install its trap
        Bundle.RunTool("kill", "-TERM", runtimePid.ToString());
        var result = await running;

        Assert.Equal(7, result.ExitCode);
        Assert.Contains("got-term", result.Stdout);
    }

    private static int ParentOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
    }

    [SkippableFact]
    public void CgroupFlag_PlacesTheProcessInAnExistingSubCgroup()
    {
        StartSleeper();
        string? containerCgroup = Directory.EnumerateDirectories("/sys/fs/cgroup/memory", Id, SearchOption.AllDirectories).FirstOrDefault();
        Skip.If(containerCgroup is null, $"no memory cgroup named {Id} under /sys/fs/cgroup/memory");
        var sub = Path.Combine(containerCgroup!, "sub");
        Directory.CreateDirectory(sub);
        var pidFile = PidFilePath();

        var result = Exec("-d", "--pid-file", pidFile, "--cgroup", "memory:sub", Id, "sleep", "30");
        var missing = Exec("--cgroup", "memory:nonexistent", Id, "true");

        Assert.True(result.Succeeded, result.ToString());
        int pid = ReadPid(pidFile);
        Assert.Contains(pid.ToString(), File.ReadAllLines(Path.Combine(sub, "cgroup.procs")));
        Assert.Equal(255, missing.ExitCode);
        Assert.Contains("nonexistent", missing.Stderr);
        Bundle.RunTool("kill", "-KILL", pid.ToString());
        Eventually(() => File.ReadAllText(Path.Combine(sub, "cgroup.procs")).Trim().Length == 0, "the sub-cgroup's process to die");
        Directory.Delete(sub);
    }

    /// <summary>A sleeper whose cgroup namespace is its own and whose /sys/fs/cgroup is writable, so that it can make
    /// sub-cgroups of its own cgroups (runc's exec.bats: set_cgroup_mount_writable).</summary>
    private void StartSleeperWithWritableCgroups()
    {
        var spec = Specs.Default("sleep", "1000").WithNamespace("cgroup");
        var cgroupMount = spec.Mounts().Select(m => m!.AsObject()).Single(m => (string?)m["destination"] == "/sys/fs/cgroup");
        cgroupMount["options"] = Specs.Strings("nosuid", "noexec", "nodev", "relatime");
        StartSleeper(spec);
    }

    /// <summary>The v1 lines of /proc/self/cgroup of a process exec'd with <paramref name="cgroupArgs"/>, as
    /// controller list → path.</summary>
    private Dictionary<string, string> CgroupsOfExec(params string[] cgroupArgs)
    {
        var result = Exec([.. cgroupArgs, Id, "cat", "/proc/self/cgroup"]);
        Assert.True(result.Succeeded, result.ToString());
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':', 3))
            .Where(f => f[0] != "0").ToDictionary(f => f[1], f => f[2]);
    }

    // runc's exec.bats "runc exec [--cgroup sub-cgroups [v1]]": sub-cgroups made from inside the container, joined per
    // controller; "/" is the container's own cgroup; runc's parse errors and unknown controllers fail.
    [SkippableFact]
    public void CgroupFlag_JoinsV1SubCgroupsMadeInsideTheContainer_AsRunc()
    {
        Skip.IfNot(Directory.Exists("/sys/fs/cgroup/memory") && Directory.Exists("/sys/fs/cgroup/cpu"), "no cgroup v1 memory and cpu hierarchies");
        StartSleeperWithWritableCgroups();
        var mkdir = ExecIn("sh", "-euc", "mkdir -p /sys/fs/cgroup/memory/submem /sys/fs/cgroup/cpu/subcpu /sys/fs/cgroup/cpuacct/subcpu");
        Assert.True(mkdir.Succeeded, mkdir.ToString());

        var plain = CgroupsOfExec();
        var explicitRoot = CgroupsOfExec("--cgroup", "/");
        var emptyControllerList = CgroupsOfExec("--cgroup", ":/"); // runc: an empty controller list means all of them
        var sub = CgroupsOfExec("--cgroup", "memory:submem", "--cgroup", "cpu,cpuacct:subcpu");
        var parent = Exec("--cgroup", "..", Id, "true");
        var missing = Exec("--cgroup", "cpu:nonexistent", Id, "true");
        var unknown = Exec("--cgroup", "whaaat:/", Id, "true");
        var twoColons = Exec("--cgroup", "memory:a:b", Id, "true");
        var unprefixedWithOthers = Exec("--cgroup", "memory:submem", "--cgroup", "submem", Id, "true");

        Assert.All(plain.Values, p => Assert.Equal("/", p));
        Assert.Equal(plain, explicitRoot);
        Assert.Equal(plain, emptyControllerList);
        Assert.Equal("/submem", sub["memory"]);
        Assert.Equal("/subcpu", sub["cpu"]);
        Assert.Equal("/subcpu", sub["cpuacct"]);
        Assert.Equal("/", sub["pids"]);
        foreach (var failed in new[] { parent, missing, unknown, twoColons, unprefixedWithOthers })
            Assert.True(failed.ExitCode == 255 && !failed.TimedOut, "should fail: " + failed);
        Assert.Contains("nonexistent", missing.Stderr);
        Assert.Contains("whaaat", unknown.Stderr);
    }

    private int ProcessesInTheContainersFreezerCgroup() =>
        File.ReadAllLines(Path.Combine(Assert.Single(LeakCheck.CgroupDirectoriesNamed(Id), d => d.StartsWith("/sys/fs/cgroup/freezer/", StringComparison.Ordinal)), "cgroup.procs"))
            .Count(l => l.Trim().Length > 0);

    // runc 1.1.5 places the process in the frozen cgroup, where it stops before its exec, and then waits for it:
    // `runc exec -d --ignore-paused` hangs until the container is resumed (and ignores SIGTERM meanwhile).
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void IgnorePaused_DetachedExecReturns_AndItsProcessStartsFrozen()
    {
        Skip.IfNot(Directory.Exists("/sys/fs/cgroup/freezer"), "no cgroup v1 freezer hierarchy on this host");
        int init = StartSleeper();
        Assert.True(Runtime.Run("pause", Id).Succeeded);
        var marker = $"/proc/{init}/root/dev/shm/ran";

        var exec = Runtime.Run(["exec", "-d", "--ignore-paused", Id, "sh", "-c", "echo ran > /dev/shm/ran"], globalArguments: null, timeout: TimeSpan.FromSeconds(60));

        Assert.True(exec.Succeeded, "exec -d --ignore-paused did not return: " + exec);
        Assert.Equal("paused", Status());
        Assert.Equal(2, ProcessesInTheContainersFreezerCgroup()); // init and the new process, both frozen
        Thread.Sleep(300);
        Assert.False(File.Exists(marker), "the process ran in a paused container");
        var resume = Runtime.Run("resume", Id);
        Assert.True(resume.Succeeded, "resume failed: " + resume);
        Eventually(() => File.Exists(marker), "the process to run once the container resumed");
    }

    // A foreground exec into a paused container waits for its process, which runs once the container resumes: the
    // resume must not wait for the exec (the exec's command and its frozen stage held the container's lock).
    [SkippableFact]
    public async Task IgnorePaused_ForegroundExecRunsOnceTheContainerResumes()
    {
        StartSleeper();
        Assert.True(Runtime.Run("pause", Id).Succeeded);

        var exec = Runtime.RunAsync(["exec", "--ignore-paused", Id, "sh", "-c", "echo ran-after-resume"], timeout: TimeSpan.FromSeconds(60));
        Eventually(() => Runtime.Run("ps", "--format", "json", Id) is { Succeeded: true } ps && ps.Stdout.Split(',').Length >= 2,
            "the exec'd process to join the paused container", TimeSpan.FromSeconds(20));
        var resume = Runtime.Run("resume", Id);
        var result = await exec;

        Assert.True(resume.Succeeded, "resume failed: " + resume);
        Assert.True(result.Succeeded, "exec failed: " + result);
        Assert.Equal("ran-after-resume\n", result.Stdout);
    }

    // ---- sessions: runc's C stage calls setsid for every process it starts, init and each exec ----

    /// <summary>The shell's own "sid=S pid=P", from /proc/$$/stat (field 6 is the session) inside the container.</summary>
    private const string ShellSession = "set -- $(cat /proc/$$/stat); echo sid=$6 pid=$$";

    /// <summary>sid and pid of "sid=S pid=P" in <paramref name="text"/> (a pty may add other lines).</summary>
    private static (string Sid, string Pid) SessionLine(string text) =>
        Regex.Match(text, @"sid=(\d+) pid=(\d+)") is { Success: true } m
            ? (m.Groups[1].Value, m.Groups[2].Value)
            : throw new Xunit.Sdk.XunitException($"no sid=/pid= line in the process's output:\n{text}");

    [SkippableTheory]
    [InlineData("foreground")]
    [InlineData("detached")]
    [InlineData("tty")]
    public void ExecProcess_LeadsASessionOfItsOwn(string mode)
    {
        StartSleeper();

        string text;
        if (mode == "foreground")
        {
            var result = ExecIn("sh", "-c", ShellSession);
            Assert.True(result.Succeeded, result.ToString());
            text = result.Stdout;
        }
        else if (mode == "detached")
        {
            var pidFile = PidFilePath();
            var result = Exec("-d", "--pid-file", pidFile, Id, "sleep", "30");
            Assert.True(result.Succeeded, result.ToString());
            // Its pid in the container's PID namespace: the last NSpid field.
            string nsPid = StatusField(File.ReadAllText($"/proc/{ReadPid(pidFile)}/status"), "NSpid").Split('\t', ' ').Last();
            var stat = ExecIn("sh", "-c", $"set -- $(cat /proc/{nsPid}/stat); echo sid=$6 pid=$1");
            Assert.True(stat.Succeeded, stat.ToString());
            text = stat.Stdout;
        }
        else
        {
            var socket = Path.Combine(WorkDirectory, "console.sock");
            using var console = new ConsoleListener(socket);
            var result = Exec("-t", "-d", "--console-socket", socket, Id, "sh", "-c", ShellSession);
            Assert.True(result.Succeeded, result.ToString());
            console.ReceiveMaster(TimeSpan.FromSeconds(15));
            text = console.ReadUntil(null, TimeSpan.FromSeconds(15)); // to the hang-up: the process exited
        }
        Output.WriteLine(text);

        var (sid, pid) = SessionLine(text);
        Assert.Equal(pid, sid);
    }

    [SkippableFact]
    public void Init_LeadsASessionOfItsOwn()
    {
        StartSleeper();

        var result = ExecIn("sh", "-c", "set -- $(cat /proc/1/stat); echo sid=$6 pid=$1");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(("1", "1"), SessionLine(result.Stdout));
    }

    // ---- errors ----

    [SkippableFact]
    public void UnknownContainer_Fails255()
    {
        var result = Exec("bt-no-such-" + Id[3..], "true");

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("exec failed", result.Stderr);
        Assert.Contains("does not exist", result.Stderr);
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 says "container does not exist" without the id
    public void UnknownContainer_MessageNamesTheId()
    {
        var result = Exec("bt-no-such-" + Id[3..], "true");

        Assert.Contains("bt-no-such-" + Id[3..], result.Stderr);
    }

    [SkippableFact]
    public void StoppedContainer_IsRefused()
    {
        Bundle.WriteConfig(Specs.Default("true"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        WaitForStatus("stopped");

        var result = ExecIn("true");

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("cannot exec in a stopped container", result.Stderr);
    }

    [SkippableFact]
    public void PausedContainer_IsRefusedWithoutIgnorePaused()
    {
        StartSleeper();
        Assert.True(Runtime.Run("pause", Id).Succeeded);

        var result = ExecIn("true");
        Assert.True(Runtime.Run("resume", Id).Succeeded);

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("cannot exec in a paused container", result.Stderr);
    }

    [SkippableFact]
    public void MissingBinary_ExecutableFileNotFoundInPath()
    {
        StartSleeper();

        var result = ExecIn("no-such-binary");

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("no-such-binary", result.Stderr);
        Assert.Contains("executable file not found in $PATH", result.Stderr);
        Assert.True(ExecIn("true").Succeeded);
    }

    [SkippableFact]
    public void EmptyCommand_IsRefused()
    {
        StartSleeper();

        var result = Exec(Id);

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("args cannot be empty", result.Stderr);
    }

    [SkippableFact]
    public void MissingCwd_Fails()
    {
        StartSleeper();

        var result = Exec("--cwd", "/no/such/dir", Id, "true");

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("chdir", result.Stderr);
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc names neither the file nor the JSON path
    public void BadProcessFile_NamesTheFile_JsonLogLine()
    {
        StartSleeper();
        var file = Path.Combine(WorkDirectory, "bad-process.json");
        File.WriteAllText(file, "{\"args\": [\"true\"], \"cwd\": 5");
        var log = Path.Combine(WorkDirectory, "runtime.log");

        var result = Runtime.Run(["exec", "--process", file, Id], ["--log", log, "--log-format", "json"]);

        Assert.Equal(255, result.ExitCode);
        Assert.Contains(file, result.Stderr);
        var line = JsonNode.Parse(File.ReadAllLines(log).Last())!.AsObject();
        Assert.Equal("error", (string)line["level"]!);
        Assert.Contains(file, (string)line["msg"]!);
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 runs the process and ignores a capability it does not know
    public void UnknownCap_IsRefused()
    {
        StartSleeper();

        var result = Exec("--cap", "CAP_NOT_A_CAP", Id, "true");

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("CAP_NOT_A_CAP", result.Stderr);
    }

    // ---- escapes ----

    /// <summary>
    /// CVE-2024-21626: a cwd of /proc/self/fd/N names whatever the runtime's clone has open as fd N (the state
    /// directory, the cgroup fs...). The exec must fail, or run with a cwd inside the container.
    /// </summary>
    [SkippableFact]
    public void CwdThroughLeakedFds_NeverStartsOutsideTheRoot()
    {
        StartSleeper();
        for (int n = 3; n <= 15; n++)
        {
            var result = Exec("--cwd", $"/proc/self/fd/{n}", Id, "sh", "-c", "pwd; ls -a");

            if (!result.Succeeded) continue;
            var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length > 0 && lines[0].StartsWith('/'), $"fd {n}: cwd outside the root: {result}");
            Assert.DoesNotContain("state.json", result.Stdout);
            Assert.DoesNotContain("cgroup.procs", result.Stdout);
        }
    }

    /// <summary>
    /// CVE-2019-5736: while execs run, a container process opens /proc/PID/exe of every new process in its PID
    /// namespace. Before it execs, the runtime's clone is the host's runtime binary: it must never be reachable.
    /// </summary>
    [SkippableFact]
    public void ContainerProcessCannotOpenTheRuntimeBinaryDuringExec()
    {
        var attacker = Bundle.InRootfs("bin/exe-watcher");
        BuildExeWatcher(attacker);
        var spec = Specs.Default("/bin/exe-watcher");
        spec["root"]!["readonly"] = false;
        spec.Process()["noNewPrivileges"] = false;
        StartSleeper(spec);
        Eventually(() => File.Exists(Bundle.InRootfs("watching")), "the watcher to start");

        for (int i = 0; i < 40; i++)
            Assert.True(ExecIn("true").Succeeded);

        File.WriteAllText(Bundle.InRootfs("stop"), "");
        Eventually(() => File.Exists(Bundle.InRootfs("done")), "the watcher to finish");
        var hits = File.ReadAllText(Bundle.InRootfs("hits"));
        Output.WriteLine(File.ReadAllText(Bundle.InRootfs("done")));
        Assert.True(hits.Length == 0, "the container opened a runtime binary: " + hits);
    }

    /// <summary>A static C program (the rootfs has no compiler) that scans /proc in a tight loop.</summary>
    private void BuildExeWatcher(string output)
    {
        var source = Path.Combine(WorkDirectory, "exe-watcher.c");
        File.WriteAllText(source, """
            #include <dirent.h>
            #include <fcntl.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <unistd.h>
            int main(void) {
                FILE *hits = fopen("/hits", "w");
                close(open("/watching", O_CREAT | O_WRONLY, 0644));
                long scans = 0, opened = 0;
                char self[32];
                snprintf(self, sizeof self, "%d", getpid());
                while (access("/stop", F_OK) != 0) {
                    DIR *d = opendir("/proc");
                    struct dirent *e;
                    while ((e = readdir(d)) != NULL) {
                        if (e->d_name[0] < '0' || e->d_name[0] > '9' || strcmp(e->d_name, self) == 0) continue;
                        char path[64], target[512];
                        snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
                        int fd = open(path, O_RDONLY);
                        if (fd < 0) continue;
                        opened++;
                        // What the fd holds (the process may have exec'd or exited since the open).
                        char link[64];
                        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                        ssize_t n = readlink(link, target, sizeof target - 1);
                        target[n > 0 ? n : 0] = 0;
                        // Our own programs are busybox and this watcher; anything else came from the host.
                        if (strcmp(target, "/bin/busybox") != 0 && strcmp(target, "/bin/exe-watcher") != 0) {
                            fprintf(hits, "opened pid %s exe %s\n", e->d_name, target);
                            fflush(hits);
                        }
                        close(fd);
                    }
                    closedir(d);
                    scans++;
                }
                FILE *done = fopen("/done", "w");
                fprintf(done, "scans=%ld opened=%ld\n", scans, opened);
                fclose(done);
                return 0;
            }
            """);
        Bundle.RunTool("cc", "-O2", "-static", "-o", output, source);
    }

    /// <summary>As for init (ProcessTests): `exec --user 1000 --cwd DIR` with a DIR only root may enter starts there.</summary>
    [SkippableFact]
    public void ACwdOnlyRootCanEnter_IsEnteredBeforeTheUserSwitch()
    {
        string dir = Bundle.InRootfs("/root-only");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        StartSleeper();

        var result = Exec("--user", "1000:1000", "--cwd", "/root-only", Id, "sh", "-c", "pwd; id -u; ls >/dev/null 2>&1 || echo cannot-list");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("/root-only\n1000\ncannot-list\n", result.Stdout);
    }
}
