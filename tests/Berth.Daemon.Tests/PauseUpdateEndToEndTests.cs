using System.Globalization;
using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>
/// docker pause / unpause, update and OOMKilled against berthd, on both exec drivers (in-process and runc): the state
/// berthd reports, what the container's processes and cgroup show from outside and inside, and the events.
/// </summary>
public class PauseUpdateEndToEndTests(ContainerDaemon fixture) : IClassFixture<ContainerDaemon>
{
    DaemonInstance Daemon => fixture.Daemon;

    ProcessResult Docker(params string[] args) => DockerCli.Docker(Daemon, args);

    static ProcessResult Ok(ProcessResult result) => DockerCli.Ok(result);

    static void RequireRuntime(string runtime) =>
        Skip.If(runtime == "runc" && Tools.Which("runc") is null, "runc is not installed: the runc driver's half of this theory cannot run");

    static string UnixNow() => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture);

    string Format(string name, string format) => Ok(Docker("inspect", "-f", format, name)).Stdout.Trim();

    /// <summary>The counter the container's loop writes to /tmp/n, read from its writable layer on the host.</summary>
    string Counter(string id)
    {
        string file = Path.Combine(Daemon.DataRoot, "containers", id, "rw", "upper", "tmp", "n");
        // Up to 30 s: with the whole project's classes running at once on two CPUs, 5 s was once not enough.
        for (int attempt = 0; attempt < 300; attempt++)
        {
            try
            {
                string text = File.ReadAllText(file).Trim();
                if (text.Length > 0) return text;
            }
            catch (IOException)
            {
                // not written yet (the loop's first round, or tmp/ not copied up yet)
            }
            Thread.Sleep(100);
        }
        throw new Xunit.Sdk.XunitException($"the container's counter never appeared in {file}");
    }

    /// <summary>The counter moves within 10 s.</summary>
    void AssertAdvances(string id)
    {
        string before = Counter(id);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Counter(id) == before)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the counter of {id} stayed at {before} for 10 s: the container does not run");
            Thread.Sleep(100);
        }
    }

    /// <summary>The state letter of every process of the container (pid 1's children included), from /proc on the host.</summary>
    static List<string> ProcessStates(int pid)
    {
        var states = new List<string>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int p)) continue;
            try
            {
                var status = File.ReadAllLines(Path.Combine(dir, "status"));
                string ppid = status.First(l => l.StartsWith("PPid:", StringComparison.Ordinal))["PPid:".Length..].Trim();
                if (p != pid && ppid != pid.ToString(CultureInfo.InvariantCulture)) continue;
                states.Add(status.First(l => l.StartsWith("State:", StringComparison.Ordinal))["State:".Length..].Trim());
            }
            catch (IOException)
            {
            }
        }
        return states;
    }

    const string CounterLoop = "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done";

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Pause_freezes_every_process_and_unpause_thaws_them(string runtime)
    {
        RequireRuntime(runtime);
        string name = "pu-pause-" + runtime;
        string since = UnixNow();
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, ContainerDaemon.One, "sh", "-c", CounterLoop)).Stdout.Trim();
        AssertAdvances(id);
        int pid = int.Parse(Format(name, "{{.State.Pid}}"), CultureInfo.InvariantCulture);
        int PausedCount() => int.Parse(Ok(Docker("info", "-f", "{{.ContainersPaused}}")).Stdout.Trim(), CultureInfo.InvariantCulture);
        int pausedBefore = PausedCount();

        Ok(Docker("pause", name));
        Assert.Equal("paused true true", Format(name, "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"));
        Assert.Matches(@"^Up .* \(Paused\)$", Ok(Docker("ps", "--filter", "name=" + name, "--format", "{{.Status}}")).Stdout.Trim());
        Assert.Contains(name, Ok(Docker("ps", "--filter", "status=paused", "--format", "{{.Names}}")).Stdout.Split('\n'));
        Assert.Equal(pausedBefore + 1, PausedCount());
        Assert.Equal("FROZEN", File.ReadAllText($"/sys/fs/cgroup/freezer/berth/{id}/freezer.state").Trim());
        string frozenAt = Counter(id);
        Thread.Sleep(1000);
        Assert.Equal(frozenAt, Counter(id));
        // A frozen task sleeps uninterruptibly (D) in the freezer.
        Assert.All(ProcessStates(pid), s => Assert.StartsWith("D", s));

        DockerCli.Fails(Docker("pause", name), $"Container {id} is already paused");
        DockerCli.Fails(Docker("exec", name, "true"), $"Container {name} is paused, unpause the container before exec");
        DockerCli.Fails(Docker("start", name), "cannot start a paused container, try unpause instead");

        Ok(Docker("unpause", name));
        Assert.Equal("running false true", Format(name, "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"));
        Assert.Equal("THAWED", File.ReadAllText($"/sys/fs/cgroup/freezer/berth/{id}/freezer.state").Trim());
        AssertAdvances(id);
        DockerCli.Fails(Docker("unpause", name), $"Container {id} is not paused");

        // stop of a paused container: the signal, the thaw that lets it land, SIGKILL after the timeout (sh ignores TERM as pid 1).
        Ok(Docker("pause", name));
        Ok(Docker("stop", "-t", "1", name));
        Assert.Equal("exited false 137", Format(name, "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}"));
        Ok(Docker("rm", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
        Assert.False(Directory.Exists($"/sys/fs/cgroup/freezer/berth/{id}"), "the freezer cgroup is left");
        Thread.Sleep(50);
        var actions = Ok(Docker("events", "--since", since, "--until", UnixNow(), "--filter", "container=" + id, "--format", "{{.Action}}")).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["create", "start", "pause", "unpause", "pause", "kill", "unpause", "kill", "die", "stop", "destroy"], actions);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Kill_and_rm_force_end_a_paused_container(string runtime)
    {
        RequireRuntime(runtime);
        string name = "pu-kill-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, ContainerDaemon.One, "sh", "-c", CounterLoop)).Stdout.Trim();
        AssertAdvances(id);
        Ok(Docker("pause", name));
        Ok(Docker("kill", name));
        Assert.Equal("137", Ok(Docker("wait", name)).Stdout.Trim());
        Assert.Equal("exited false", Format(name, "{{.State.Status}} {{.State.Paused}}"));

        Ok(Docker("start", name));
        AssertAdvances(id);
        Ok(Docker("pause", name));
        Ok(Docker("rm", "-f", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void Update_applies_new_limits_to_the_running_cgroup_and_keeps_them(string runtime)
    {
        RequireRuntime(runtime);
        string name = "pu-update-" + runtime;
        string id = Ok(Docker("run", "-d", "--runtime", runtime, "--name", name, ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        Assert.Equal(name, Ok(Docker("update", "-m", "32m", "--memory-swap", "64m", "--memory-reservation", "16m", "--cpus", "0.5",
            "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "50", "--restart", "on-failure:2", name)).Stdout.Trim());

        Assert.Equal("33554432 67108864 16777216 500000000 512 0 50 on-failure 2",
            Format(name, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} " +
                         "{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"));
        AssertLimitsInside(name);

        // A restart keeps them: the record holds them, the new cgroup gets them.
        Ok(Docker("restart", "-t", "0", name));
        AssertLimitsInside(name);

        // Unlimited swap lifts the running cgroup's memsw limit.
        Ok(Docker("update", "--memory-swap", "-1", name));
        Assert.Equal("-1", Format(name, "{{.HostConfig.MemorySwap}}"));
        Assert.Equal("9223372036854771712", Ok(Docker("exec", name, "cat", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")).Stdout.Trim());

        // The CPU quota through --cpu-quota / --cpu-period conflicts with --cpus, as dockerd says.
        DockerCli.Fails(Docker("update", "--cpu-quota", "20000", name),
            $"Cannot update container {id}: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
        DockerCli.Fails(Docker("update", "-m", "1000", name), "Minimum memory limit allowed is 6MB");
        Ok(Docker("rm", "-f", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    /// <summary>The limits of the update above, read from the container's own cgroup files (docker's v1 view: the container's cgroup at /sys/fs/cgroup/CONTROLLER).</summary>
    void AssertLimitsInside(string name)
    {
        string Read(string file) => Ok(Docker("exec", name, "cat", file)).Stdout.Trim();
        Assert.Equal("33554432", Read("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
        Assert.Equal("67108864", Read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"));
        Assert.Equal("16777216", Read("/sys/fs/cgroup/memory/memory.soft_limit_in_bytes"));
        Assert.Equal("50000", Read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
        Assert.Equal("100000", Read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
        Assert.Equal("512", Read("/sys/fs/cgroup/cpu/cpu.shares"));
        Assert.Equal("0", Read("/sys/fs/cgroup/cpuset/cpuset.cpus"));
        Assert.Equal("50", Read("/sys/fs/cgroup/pids/pids.max"));
    }

    [SkippableFact]
    public void Update_of_a_stopped_container_is_kept_for_its_next_start_and_unsupported_fields_are_named()
    {
        string name = "pu-update-stopped";
        string id = Ok(Docker("create", "--name", name, ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        Ok(Docker("update", "--pids-limit", "40", name));
        Assert.Equal("40", Format(name, "{{.HostConfig.PidsLimit}}"));
        Ok(Docker("start", name));
        Assert.Equal("40", Ok(Docker("exec", name, "cat", "/sys/fs/cgroup/pids/pids.max")).Stdout.Trim());

        var response = Tools.Curl(Daemon.Socket, "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", "{\"PidsLimit\":30}",
            $"http://localhost/containers/{name}/update");
        Assert.Equal("{\"Warnings\":[]}", response.Stdout.Trim());
        var refused = Tools.Curl(Daemon.Socket, "-s", "-w", " %{http_code}", "-X", "POST", "-H", "Content-Type: application/json",
            "-d", "{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":10,\"Hard\":10}]}", $"http://localhost/containers/{name}/update");
        Assert.Equal("{\"message\":\"Ulimits cannot be updated: ulimits are fixed at create\"} 400", refused.Stdout.Replace("\n", "", StringComparison.Ordinal).Trim());
        Assert.Equal("30", Ok(Docker("exec", name, "cat", "/sys/fs/cgroup/pids/pids.max")).Stdout.Trim());
        Ok(Docker("rm", "-f", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    [SkippableTheory]
    [InlineData("berth")]
    [InlineData("runc")]
    public void A_container_the_OOM_killer_ends_is_OOMKilled_with_an_oom_event(string runtime)
    {
        RequireRuntime(runtime);
        string name = "pu-oom-" + runtime;
        string since = UnixNow();
        // The string doubles until the 8 MiB limit (16 MiB with swap) is hit.
        var run = Docker("run", "--runtime", runtime, "--name", name, "-m", "8m", ContainerDaemon.One, "sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done");
        Assert.Equal(137, run.ExitCode);
        Assert.Equal("true 137", Format(name, "{{.State.OOMKilled}} {{.State.ExitCode}}"));
        string id = Format(name, "{{.Id}}");
        Thread.Sleep(50);
        var actions = Ok(Docker("events", "--since", since, "--until", UnixNow(), "--filter", "container=" + id, "--format", "{{.Action}}")).Stdout;
        Assert.Contains("oom\ndie", actions);

        Ok(Docker("rm", name));
        ContainerLeaks.AssertNothingLeft(Daemon, id);

        // A run that stays within its limit is not.
        Ok(Docker("run", "--runtime", runtime, "--name", name, "-m", "8m", ContainerDaemon.One, "true"));
        Assert.Equal("false 0", Format(name, "{{.State.OOMKilled}} {{.State.ExitCode}}"));
        Ok(Docker("rm", name));
    }
}

/// <summary>
/// pause, unpause and update through the docker CLI against berthd and a private dockerd 20.10 with the same image:
/// exit codes, outputs and error texts (ids replaced) must be the same.
/// </summary>
public class PauseUpdateDockerdComparisonTests(ContainerDaemon berth) : IClassFixture<ContainerDaemon>
{

    [SkippableFact]
    public void Pause_unpause_and_update_answer_as_dockerd()
    {
        Skip.If(Tools.Which("dockerd") is null, "dockerd is not installed (apt-get install docker.io)");
        var berthd = berth.Daemon;
        using var dockerd = PrivateDockerd.Start(Path.Combine(berthd.Root, "dockerd-pause"));
        DockerCli.Ok(dockerd.Docker("load", "-i", Path.Combine(berthd.Root, "images.tar")));

        string[][] steps =
        [
            ["create", "--name", "pcmp-c", ContainerDaemon.One, "true"],
            ["pause", "pcmp-c"],
            ["unpause", "pcmp-c"],
            ["pause", "pcmp-nosuch"],
            ["run", "-d", "--name", "pcmp-r", ContainerDaemon.One, "sleep", "600"],
            ["unpause", "pcmp-r"],
            ["pause", "pcmp-r"],
            ["pause", "pcmp-r"],
            ["inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "pcmp-r"],
            ["ps", "--filter", "status=paused", "--format", "{{.Names}} {{.State}}"],
            ["exec", "pcmp-r", "true"],
            ["start", "pcmp-r"],
            ["unpause", "pcmp-r"],
            ["update", "pcmp-r"],
            ["update", "-m", "1000", "pcmp-r"],
            ["update", "--memory-reservation", "1m", "pcmp-r"],
            ["update", "-m", "10m", "pcmp-r"],
            ["update", "--restart", "sometimes", "pcmp-r"],
            ["update", "-m", "32m", "--memory-swap", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50", "--restart", "on-failure:2", "pcmp-r"],
            ["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "pcmp-r"],
            ["update", "--cpu-period", "50000", "pcmp-r"],
            ["update", "--pids-limit", "20", "pcmp-c"],
            ["inspect", "-f", "{{.HostConfig.PidsLimit}}", "pcmp-c"],
            ["pause", "pcmp-r"],
            ["kill", "pcmp-r"],
            ["wait", "pcmp-r"],
            ["inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}", "pcmp-r"],
            ["rm", "pcmp-r", "pcmp-c"],
        ];
        var dockerdOutput = dockerd.AssertSameAs(berthd, steps);
        // The comparison compared something: dockerd refused the second pause and took the update.
        Assert.Contains("is already paused", dockerdOutput[7]);
        Assert.Equal("exit 0:  | 33554432 67108864 500000000 512 50 on-failure:2", dockerdOutput[19]);
    }
}

/// <summary>GET /info names the exec drivers a container may choose and the default one.</summary>
public class InfoRuntimesTests
{
    [SkippableFact]
    public void Info_lists_the_added_runtimes_and_the_default()
    {
        Skip.IfNot(Tools.IsRoot, "berthd's containers run as root");
        string runc = Tools.Which("runc") ?? throw new SkipException("runc is not installed: nothing to add with --add-runtime");
        using var daemon = DaemonInstance.Start(null, "--add-runtime", "myrunc=" + runc, "--default-runtime", "myrunc");
        var info = JsonDocument.Parse(DockerCli.Ok(DockerCli.Docker(daemon, "info", "-f", "{{json .}}")).Stdout).RootElement;
        Assert.Equal("myrunc", info.GetProperty("DefaultRuntime").GetString());
        var runtimes = info.GetProperty("Runtimes").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetProperty("path").GetString());
        Assert.Equal(["berth", "myrunc", "runc"], runtimes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(runc, runtimes["myrunc"]);
        string text = DockerCli.Ok(DockerCli.Docker(daemon, "info")).Stdout;
        string runtimesLine = text.Split('\n').Single(l => l.StartsWith(" Runtimes: ", StringComparison.Ordinal));
        Assert.Equal(["berth", "myrunc", "runc"], runtimesLine[" Runtimes: ".Length..].Split(' ').Order(StringComparer.Ordinal));
        Assert.Contains(" Default Runtime: myrunc\n", text);
    }
}

/// <summary>attach?logs=1 replays what the container logged before the attach, then (stream=1) its live output, each line once.</summary>
public class AttachLogsTests(ContainerDaemon fixture) : IClassFixture<ContainerDaemon>
{
    DaemonInstance Daemon => fixture.Daemon;

    /// <summary>The raw attach request; the multiplexed frames after the 101 head until the daemon closes, as "stream:text" lines.</summary>
    List<string> Attach(string name, string query)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Daemon.Socket));
        socket.ReceiveTimeout = 60_000;
        socket.Send(System.Text.Encoding.ASCII.GetBytes($"POST /v1.41/containers/{name}/attach?{query} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        // The head first: an error answer keeps the connection open, so it is not read to the end.
        while (!System.Text.Encoding.Latin1.GetString(received.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal) && (n = socket.Receive(buffer)) > 0)
            received.Write(buffer, 0, n);
        Assert.StartsWith("HTTP/1.1 101", System.Text.Encoding.Latin1.GetString(received.ToArray()));
        while ((n = socket.Receive(buffer)) > 0) received.Write(buffer, 0, n);
        byte[] all = received.ToArray();
        int body = System.Text.Encoding.Latin1.GetString(all).IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        var frames = new List<string>();
        for (int at = body; at + 8 <= all.Length;)
        {
            int length = (all[at + 4] << 24) | (all[at + 5] << 16) | (all[at + 6] << 8) | all[at + 7];
            frames.Add($"{all[at]}:{System.Text.Encoding.UTF8.GetString(all, at + 8, length)}");
            at += 8 + length;
        }
        return frames;
    }

    [SkippableFact]
    public void Logs_are_replayed_before_the_live_output_without_gap_or_repeat()
    {
        string name = "al-replay";
        string id = DockerCli.Ok(DockerCli.Docker(Daemon, "run", "-d", "--name", name, ContainerDaemon.One, "sh", "-c",
            "echo one; echo err >&2; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo three")).Stdout.Trim();
        string log = Path.Combine(Daemon.DataRoot, "containers", id, id + "-json.log");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(File.Exists(log) && File.ReadAllText(log).Contains("err", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the container's first lines did not reach its log within 30 s");
            Thread.Sleep(50);
        }
        // stdout and stderr are read by two threads of the monitor: their order in the log is not the container's.
        Assert.Equal(["1:one\n", "2:err\n"], Attach(name, "logs=1&stream=0&stdout=1&stderr=1").Order(StringComparer.Ordinal));
        Assert.Equal(["1:one\n"], Attach(name, "logs=1&stream=0&stdout=1"));

        var live = Task.Run(() => Attach(name, "logs=1&stream=1&stdout=1&stderr=1"));
        Thread.Sleep(1000);
        DockerCli.Ok(DockerCli.Docker(Daemon, "exec", name, "touch", "/tmp/go"));
        Assert.True(live.Wait(TimeSpan.FromSeconds(60)), "the attach did not end with the container");
        Assert.Equal(3, live.Result.Count);
        Assert.Equal(["1:one\n", "2:err\n"], live.Result.Take(2).Order(StringComparer.Ordinal));
        Assert.Equal("1:three\n", live.Result[2]);
        DockerCli.Ok(DockerCli.Docker(Daemon, "rm", name));
    }
}

/// <summary>A container paused when berthd is killed is still paused, and can be unpaused, under the berthd started again.</summary>
public class PausedLiveRestoreTests
{
    [SkippableFact]
    public void A_paused_container_stays_paused_across_a_berthd_restart_and_unpauses()
    {
        using var fixture = new ContainerDaemon();
        var daemon = fixture.Daemon;
        string id = DockerCli.Ok(DockerCli.Docker(daemon, "run", "-d", "--name", "plr", ContainerDaemon.One, "sh", "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")).Stdout.Trim();
        string counter = Path.Combine(daemon.DataRoot, "containers", id, "rw", "upper", "tmp", "n");
        string Count()
        {
            for (int i = 0; i < 100; i++)
            {
                try
                {
                    if (File.ReadAllText(counter).Trim() is { Length: > 0 } text) return text;
                }
                catch (IOException)
                {
                    // not written yet
                }
                Thread.Sleep(100);
            }
            throw new Xunit.Sdk.XunitException($"no counter in {counter} within 10 s");
        }
        Count();
        DockerCli.Ok(DockerCli.Docker(daemon, "pause", "plr"));
        daemon.Process.Kill();
        Assert.True(daemon.Process.WaitForExit(30_000), "berthd did not die of SIGKILL within 30 s");

        using var again = DaemonInstance.Start(daemon.Root, ContainerDaemon.ExtraArgs);
        try
        {
            Assert.Equal("paused true", DockerCli.Ok(DockerCli.Docker(again, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "plr")).Stdout.Trim());
            string frozen = Count();
            Thread.Sleep(1000);
            Assert.Equal(frozen, Count());
            DockerCli.Ok(DockerCli.Docker(again, "unpause", "plr"));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Count() == frozen)
            {
                Assert.True(DateTime.UtcNow < deadline, "the counter did not move within 10 s of the unpause");
                Thread.Sleep(100);
            }
        }
        finally
        {
            DockerCli.Docker(again, "rm", "-f", "plr");
        }
        ContainerLeaks.AssertNothingLeft(again, id);
        again.Terminate(TimeSpan.FromSeconds(30));
    }
}
