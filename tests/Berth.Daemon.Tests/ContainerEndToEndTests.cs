using System.Text;
using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Images.Tests;

namespace Berth.Daemon.Tests;

/// <summary>
/// One berthd (containers on its in-process driver by default; runc from PATH and, when $BERTH_RUNTIME is set, that
/// binary as the runtime "berth-runtime" to choose with --runtime) holding two images made here
/// from the host's busybox-static: <c>ctest/one:1</c> of one layer and <c>ctest/two:1</c> of two (the second adds
/// /etc/layer2 and removes /etc/gone with a whiteout), loaded with the docker CLI.
/// </summary>
public sealed class ContainerDaemon : IDisposable
{
    public const string One = "ctest/one:1", Two = "ctest/two:1";
    readonly Lazy<DaemonInstance> _daemon = new(Start);

    public DaemonInstance Daemon => _daemon.Value;

    /// <summary>--add-runtime berth-runtime=$BERTH_RUNTIME when it is set.</summary>
    public static string[] ExtraArgs =>
        Environment.GetEnvironmentVariable("BERTH_RUNTIME") is { Length: > 0 } runtime ? ["--add-runtime", "berth-runtime=" + runtime] : [];

    static DaemonInstance Start()
    {
        Skip.IfNot(Tools.IsRoot, "container tests run as root (integration section of scripts/test.sh)");
        Skip.IfNot(File.Exists("/bin/busybox"), "busybox-static is not installed (apt-get install busybox-static)");
        var daemon = DaemonInstance.Start(null, ExtraArgs);
        var archive = new SaveArchiveBuilder();
        byte[] layer1 = BusyboxLayer.Tar();
        archive.Image([One], [layer1]);
        archive.Image([Two], [layer1, SaveArchiveBuilder.Tar(("etc/layer2", "from layer 2\n"), ("etc/.wh.gone", ""))]);
        string file = Path.Combine(daemon.Root, "images.tar");
        File.WriteAllBytes(file, archive.Build());
        DockerCli.Ok(DockerCli.Docker(daemon, "load", "-i", file));
        return daemon;
    }

    /// <summary>Removes the containers a failed test left (rm -f through the API), so that no monitor, mount or cgroup outlives the daemon.</summary>
    public void Dispose()
    {
        if (!_daemon.IsValueCreated) return;
        var daemon = _daemon.Value;
        try
        {
            var left = DockerCli.Docker(daemon, "ps", "-aq", "--no-trunc").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (left.Length > 0) DockerCli.Docker(daemon, ["rm", "-f", .. left]);
        }
        finally
        {
            daemon.Dispose();
        }
    }
}

/// <summary>
/// berthd's containers through the real docker CLI: create, inspect, ps, rename, rm, run, logs, stop, wait, with
/// dockerd's answers for bad input and nothing left on the host (directories, mounts, runtime state, cgroups).
/// </summary>
public class ContainerEndToEndTests(ContainerDaemon fixture) : IClassFixture<ContainerDaemon>
{
    DaemonInstance Daemon => fixture.Daemon;

    ProcessResult Docker(params string[] args) => DockerCli.Docker(Daemon, args);

    static ProcessResult Ok(ProcessResult result) => DockerCli.Ok(result);

    string ContainersDir => Path.Combine(Daemon.DataRoot, "containers");

    string[] ContainerDirs() => Directory.Exists(ContainersDir) ? [.. Directory.GetDirectories(ContainersDir).Select(Path.GetFileName).Order()!] : [];

    JsonElement Inspect(string name)
    {
        var result = Ok(Docker("inspect", "--type", "container", name));
        return JsonDocument.Parse(result.Stdout).RootElement[0];
    }

    void AssertNothingLeft(string id) => ContainerLeaks.AssertNothingLeft(Daemon, id);

    [SkippableFact]
    public void Create_inspect_ps_rename_and_rm()
    {
        string id = Ok(Docker("create", "--name", "cr-first", "-e", "A=b", "-w", "/work", ContainerDaemon.One, "sleep", "5")).Stdout.Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        var inspect = Inspect("cr-first");
        Assert.Equal(id, inspect.GetProperty("Id").GetString());
        Assert.Equal("/cr-first", inspect.GetProperty("Name").GetString());
        Assert.Equal("created", inspect.GetProperty("State").GetProperty("Status").GetString());
        Assert.False(inspect.GetProperty("State").GetProperty("Running").GetBoolean());
        Assert.Equal("sleep", inspect.GetProperty("Path").GetString());
        Assert.Equal(["5"], inspect.GetProperty("Args").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("overlay2", inspect.GetProperty("Driver").GetString());
        Assert.Equal(ContainerDaemon.One, inspect.GetProperty("Config").GetProperty("Image").GetString());
        Assert.Equal("/work", inspect.GetProperty("Config").GetProperty("WorkingDir").GetString());
        Assert.Contains("A=b", inspect.GetProperty("Config").GetProperty("Env").EnumerateArray().Select(e => e.GetString()));
        Assert.StartsWith("sha256:", inspect.GetProperty("Image").GetString());
        Assert.Equal(Path.Combine(ContainersDir, id, id + "-json.log"), inspect.GetProperty("LogPath").GetString());
        Assert.True(File.Exists(Path.Combine(ContainersDir, id, "config.v2.json")));

        // By a unique prefix of the id, as dockerd.
        Assert.Equal(id, Ok(Docker("inspect", "--format", "{{.Id}}", id[..10])).Stdout.Trim());

        var ps = Ok(Docker("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}} {{.Command}}")).Stdout;
        Assert.Contains($"{id} cr-first Created \"sleep 5\"", ps);
        Assert.DoesNotContain(id, Ok(Docker("ps", "--no-trunc", "-q")).Stdout);

        Ok(Docker("rename", "cr-first", "cr-second"));
        Assert.Equal("/cr-second", Inspect(id).GetProperty("Name").GetString());
        DockerCli.Fails(Docker("inspect", "--type", "container", "cr-first"), "No such container: cr-first");

        Assert.Equal("cr-second", Ok(Docker("rm", "cr-second")).Stdout.Trim());
        DockerCli.Fails(Docker("rm", "cr-second"), "No such container: cr-second");
        AssertNothingLeft(id);
        // The name is free again.
        string again = Ok(Docker("create", "--name", "cr-second", ContainerDaemon.One, "true")).Stdout.Trim();
        Ok(Docker("rm", again));
    }

    [SkippableFact]
    public void Kill_answers_once_the_exit_is_recorded_so_that_rm_finds_the_container_stopped()
    {
        // dockerd's SIGKILL waits until the container is not running: `docker kill c; docker rm c` works. One curl
        // process POSTs the kill and GETs the state on the same connection right after the answer.
        for (int i = 0; i < 5; i++)
        {
            string name = $"kill-wait-{i}";
            string id = Ok(Docker("run", "-d", "--name", name, ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
            var result = Ok(Tools.Curl(Daemon.Socket, "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}\n",
                $"http://localhost/v1.41/containers/{name}/kill", "--next", "-sS", "--unix-socket", Daemon.Socket, $"http://localhost/v1.41/containers/{name}/json"));
            Assert.StartsWith("204", result.Stdout);
            var state = JsonDocument.Parse(result.Stdout[result.Stdout.IndexOf('{')..]).RootElement.GetProperty("State");
            Assert.False(state.GetProperty("Running").GetBoolean(), $"round {i}: running right after the kill's answer: {state}");
            Assert.Equal(137, state.GetProperty("ExitCode").GetInt32());
            Assert.Equal(name, Ok(Docker("rm", name)).Stdout.Trim());
            AssertNothingLeft(id);
        }
    }

    [SkippableFact]
    public void A_generated_name_is_adjective_underscore_surname()
    {
        string id = Ok(Docker("create", ContainerDaemon.One, "true")).Stdout.Trim();
        Assert.Matches("^/[a-z]+_[a-z]+[0-9]?$", Inspect(id).GetProperty("Name").GetString());
        Ok(Docker("rm", id));
    }

    [SkippableFact]
    public void A_taken_name_is_a_conflict_and_leaves_nothing()
    {
        string id = Ok(Docker("create", "--name", "cr-dup", ContainerDaemon.One, "true")).Stdout.Trim();
        var before = ContainerDirs();
        DockerCli.Fails(Docker("create", "--name", "cr-dup", ContainerDaemon.One, "true"),
            $"Conflict. The container name \"/cr-dup\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.");
        Assert.Equal(before, ContainerDirs());
        DockerCli.Fails(Docker("rename", "cr-dup", "cr-dup"), "Renaming a container with the same name as its current name");
        Ok(Docker("rm", id));
    }

    [SkippableFact]
    public void An_unknown_image_is_404_no_such_image()
    {
        var before = ContainerDirs();
        var result = Tools.Curl(Daemon.Socket, "-i", "-X", "POST", "-H", "Content-Type: application/json",
            "-d", "{\"Image\":\"ctest/nosuch:1\"}", "http://localhost/v1.41/containers/create?name=cr-unknown");
        Assert.Contains("HTTP/1.1 404", result.Stdout);
        Assert.Contains("No such image: ctest/nosuch:1", result.Stdout);
        Assert.Equal(before, ContainerDirs());
    }

    [SkippableTheory]
    [InlineData("--memory=1b", "Minimum memory limit allowed is 6MB")]
    [InlineData("--cap-add=NOPE", "unknown capability: \"CAP_NOPE\"")]
    [InlineData("--restart=sometimes", "invalid restart policy")]
    public void Bad_input_is_refused_with_dockerds_text_and_leaves_nothing(string flag, string message)
    {
        var before = ContainerDirs();
        DockerCli.Fails(Docker("create", "--name", "cr-bad", flag, ContainerDaemon.One, "true"), message);
        Assert.Equal(before, ContainerDirs());
        // The name was not kept.
        string id = Ok(Docker("create", "--name", "cr-bad", ContainerDaemon.One, "true")).Stdout.Trim();
        Ok(Docker("rm", id));
    }

    [SkippableFact]
    public void An_invalid_name_is_400_with_dockerds_text()
    {
        var before = ContainerDirs();
        var result = Tools.Curl(Daemon.Socket, "-i", "-X", "POST", "-H", "Content-Type: application/json",
            "-d", $"{{\"Image\":\"{ContainerDaemon.One}\"}}", "http://localhost/v1.41/containers/create?name=x");
        Assert.Contains("HTTP/1.1 400", result.Stdout);
        Assert.Contains("Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", result.Stdout);
        Assert.Equal(before, ContainerDirs());
    }

    [SkippableFact]
    public void Run_rm_prints_the_output_and_exits_with_the_containers_code()
    {
        var before = ContainerDirs();
        var result = Docker("run", "--rm", "--name", "cr-rm", ContainerDaemon.One, "sh", "-c", "echo hi; echo err >&2; exit 7");
        Assert.True(result.ExitCode == 7, result.ToString());
        Assert.Equal("hi\n", result.Stdout);
        Assert.Equal("err\n", result.Stderr);
        Assert.Equal(before, ContainerDirs());
        DockerCli.Fails(Docker("inspect", "--type", "container", "cr-rm"), "No such container");
    }

    [SkippableFact]
    public void Run_sees_both_layers_of_a_two_layer_image_and_writes_only_its_own()
    {
        var result = Ok(Docker("run", "--name", "cr-layers", ContainerDaemon.Two, "sh", "-c",
            "cat /etc/layer2; test -e /etc/gone && echo gone-is-there; echo new > /tmp/new; id -u"));
        Assert.Equal("from layer 2\n0\n", result.Stdout);
        string id = Inspect("cr-layers").GetProperty("Id").GetString()!;
        Assert.Equal("new\n", File.ReadAllText(Path.Combine(ContainersDir, id, "rw", "upper", "tmp", "new")));
        Assert.False(RootfsMounted(id), "the rootfs stays mounted after the exit");
        // Started again, it runs on the same writable layer.
        Assert.Equal("from layer 2\n0\n", Ok(Docker("start", "-a", "cr-layers")).Stdout);
        Assert.True(File.Exists(Path.Combine(ContainersDir, id, "rw", "upper", "tmp", "new")));
        Ok(Docker("rm", "cr-layers"));
        AssertNothingLeft(id);
    }

    [SkippableFact]
    public void Read_only_makes_the_root_read_only()
    {
        var result = Docker("run", "--rm", "--read-only", ContainerDaemon.One, "sh", "-c", "touch /x || echo refused");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("refused", result.Stdout);
        Assert.Contains("Read-only file system", result.Stderr + result.Stdout);
    }

    bool RootfsMounted(string id) => File.ReadAllText("/proc/self/mountinfo").Contains(Path.Combine(ContainersDir, id, "rootfs"));

    [SkippableFact]
    public void Run_detached_logs_stop_and_wait()
    {
        string id = Ok(Docker("run", "-d", "--name", "cr-detached", ContainerDaemon.One, "sh", "-c", "echo out; echo err >&2; exec sleep 600")).Stdout.Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        var inspect = Inspect(id);
        Assert.Equal("running", inspect.GetProperty("State").GetProperty("Status").GetString());
        Assert.True(inspect.GetProperty("State").GetProperty("Pid").GetInt32() > 0);
        Assert.True(RootfsMounted(id), "a running container's rootfs is mounted");
        Assert.Contains("cr-detached", Ok(Docker("ps", "--format", "{{.Names}} {{.Status}}")).Stdout);
        Assert.Matches("cr-detached Up ", Ok(Docker("ps", "--format", "{{.Names}} {{.Status}}")).Stdout);

        ProcessResult logs = default!;
        for (int i = 0; i < 100; i++)
        {
            logs = Ok(Docker("logs", "cr-detached"));
            if (logs.Stdout.Contains("out") && logs.Stderr.Contains("err")) break;
            Thread.Sleep(100);
        }
        Assert.Equal("out\n", logs.Stdout);
        Assert.Equal("err\n", logs.Stderr);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out\n$", Ok(Docker("logs", "-t", "cr-detached")).Stdout);
        Assert.Equal("", Ok(Docker("logs", "--tail", "0", "cr-detached")).Stdout);

        // Already running: start is a no-op (304).
        Ok(Docker("start", "cr-detached"));
        // sleep as PID 1 ignores SIGTERM: the stop ends with SIGKILL after the timeout.
        Ok(Docker("stop", "-t", "1", "cr-detached"));
        Assert.Equal("137", Ok(Docker("wait", "cr-detached")).Stdout.Trim());
        inspect = Inspect(id);
        Assert.Equal("exited", inspect.GetProperty("State").GetProperty("Status").GetString());
        Assert.Equal(137, inspect.GetProperty("State").GetProperty("ExitCode").GetInt32());
        Assert.False(RootfsMounted(id), "the rootfs stays mounted after stop");
        Assert.Matches("cr-detached Exited \\(137\\) ", Ok(Docker("ps", "-a", "--format", "{{.Names}} {{.Status}}")).Stdout);
        // Stopping a stopped container is a no-op (304).
        Ok(Docker("stop", "cr-detached"));
        Ok(Docker("rm", "cr-detached"));
        AssertNothingLeft(id);
    }

    [SkippableFact]
    public void Rm_force_of_a_running_container_leaves_no_mount_cgroup_or_state()
    {
        string id = Ok(Docker("run", "-d", "--name", "cr-force", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        DockerCli.Fails(Docker("rm", "cr-force"),
            $"You cannot remove a running container {id}. Stop the container before attempting removal or force remove");
        Assert.True(RootfsMounted(id));
        Ok(Docker("rm", "-f", "cr-force"));
        AssertNothingLeft(id);
    }

    [SkippableFact]
    public void Kill_sends_the_signal_and_restart_runs_it_again()
    {
        string id = Ok(Docker("run", "-d", "--name", "cr-kill", ContainerDaemon.One, "sh", "-c", "trap 'exit 3' USR1; while true; do sleep 1; done")).Stdout.Trim();
        Thread.Sleep(500);
        Ok(Docker("kill", "-s", "USR1", "cr-kill"));
        Assert.Equal("3", Ok(Docker("wait", "cr-kill")).Stdout.Trim());
        DockerCli.Fails(Docker("kill", "cr-kill"), $"Container {id} is not running");
        Ok(Docker("restart", "-t", "1", "cr-kill"));
        Assert.Equal("running", Inspect(id).GetProperty("State").GetProperty("Status").GetString());
        Ok(Docker("rm", "-f", "cr-kill"));
        AssertNothingLeft(id);
    }

    [SkippableFact]
    public void A_start_the_runtime_refuses_answers_500_and_unmounts()
    {
        string id = Ok(Docker("create", "--name", "cr-fail", ContainerDaemon.One, "/no/such/binary")).Stdout.Trim();
        var result = Docker("start", "cr-fail");
        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("/no/such/binary", result.Stderr);
        Assert.False(RootfsMounted(id));
        Assert.Equal("created", Inspect(id).GetProperty("State").GetProperty("Status").GetString());
        Ok(Docker("rm", "cr-fail"));
        AssertNothingLeft(id);
    }

    [SkippableFact]
    public void Rmi_of_an_image_a_container_uses_is_a_conflict()
    {
        Ok(Docker("tag", ContainerDaemon.One, "ctest/inuse:1"));
        string id = Ok(Docker("create", "--name", "cr-inuse", "ctest/inuse:1", "true")).Stdout.Trim();
        // Another tag of it still goes.
        Ok(Docker("rmi", ContainerDaemon.One));
        string imageId = Inspect(id).GetProperty("Image").GetString()!;
        DockerCli.Fails(Docker("rmi", "ctest/inuse:1"),
            $"conflict: unable to remove repository reference \"ctest/inuse:1\" (must force) - container {id[..12]} is using its referenced image {imageId[7..19]}");
        Ok(Docker("rm", id));
        Ok(Docker("tag", "ctest/inuse:1", ContainerDaemon.One));
        Ok(Docker("rmi", "ctest/inuse:1"));
    }

    [SkippableFact]
    public void Prune_removes_stopped_containers_only()
    {
        string stopped = Ok(Docker("create", "--name", "cr-prune-a", ContainerDaemon.One, "true")).Stdout.Trim();
        string running = Ok(Docker("run", "-d", "--name", "cr-prune-b", ContainerDaemon.One, "sleep", "600")).Stdout.Trim();
        var result = Ok(Docker("container", "prune", "-f"));
        Assert.Contains(stopped, result.Stdout);
        Assert.DoesNotContain(running, result.Stdout);
        AssertNothingLeft(stopped);
        Ok(Docker("rm", "-f", running));
    }
}

/// <summary>Records survive a berthd restart; a container whose runtime state is gone comes back exited.</summary>
public class ContainerRestartTests
{
    [SkippableFact]
    public void Records_are_reloaded_and_a_container_whose_runtime_is_gone_is_exited()
    {
        using var fixture = new ContainerDaemon();
        var daemon = fixture.Daemon;
        string created = DockerCli.Ok(DockerCli.Docker(daemon, "create", "--name", "rs-created", ContainerDaemon.One, "true")).Stdout.Trim();
        var run = DockerCli.Docker(daemon, "run", "--name", "rs-exited", ContainerDaemon.One, "sh", "-c", "exit 4");
        Assert.True(run.ExitCode == 4, run.ToString());
        string before = DockerCli.Ok(DockerCli.Docker(daemon, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")).Stdout;
        Assert.Equal(0, daemon.Terminate(TimeSpan.FromSeconds(30)));

        using var again = DaemonInstance.Start(daemon.Root, ContainerDaemon.ExtraArgs);
        string after = DockerCli.Ok(DockerCli.Docker(again, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")).Stdout;
        Assert.Equal(before, after);
        Assert.Contains("rs-created created", after);
        Assert.Contains("rs-exited exited", after);
        Assert.Equal("4", DockerCli.Ok(DockerCli.Docker(again, "inspect", "--format", "{{.State.ExitCode}}", "rs-exited")).Stdout.Trim());
        DockerCli.Fails(DockerCli.Docker(again, "create", "--name", "rs-created", ContainerDaemon.One, "true"), "is already in use by container");
        DockerCli.Ok(DockerCli.Docker(again, "rm", created, "rs-exited"));
        again.Terminate(TimeSpan.FromSeconds(30));
    }
}

/// <summary>
/// The same docker commands against berthd and a private dockerd 20.10 (its own roots and socket, --bridge none,
/// no iptables, its own cgroup parent), with the same images: where the outcome is deterministic, the exit codes
/// and error texts (ids replaced by &lt;id&gt;) must be the same.
/// </summary>
public class ContainerDockerdComparisonTests(ContainerDaemon berth) : IClassFixture<ContainerDaemon>
{
    [SkippableFact]
    public void Errors_match_dockerd()
    {
        Skip.If(Tools.Which("dockerd") is null, "dockerd is not installed (apt-get install docker.io)");
        var berthd = berth.Daemon;
        using var dockerd = PrivateDockerd.Start(Path.Combine(berthd.Root, "dockerd"));
        DockerCli.Ok(dockerd.Docker("load", "-i", Path.Combine(berthd.Root, "images.tar")));

        string[][] steps =
        [
            ["create", "--name", "cmp-a", ContainerDaemon.One, "true"],
            ["create", "--name", "cmp-a", ContainerDaemon.One, "true"],
            ["create", "--name", "x", ContainerDaemon.One, "true"],
            ["create", "--cap-add", "NOPE", ContainerDaemon.One, "true"],
            ["create", "--memory", "1b", ContainerDaemon.One, "true"],
            ["create", "--restart", "sometimes", ContainerDaemon.One, "true"],
            ["rename", "cmp-a", "cmp-a"],
            ["kill", "cmp-a"],
            ["rmi", ContainerDaemon.One],
            ["stop", "cmp-a"],
            ["start", "cmp-nosuch"],
            ["rm", "cmp-nosuch"],
            ["run", "-d", "--name", "cmp-run", ContainerDaemon.One, "sleep", "600"],
            ["rm", "cmp-run"],
            ["rm", "-f", "cmp-run", "cmp-a"],
            ["logs", "cmp-a"],
            ["run", "--name", "cmp-out", "-e", "A=b", ContainerDaemon.One, "sh", "-c", "echo out; echo err >&2; exit 3"],
            ["logs", "cmp-out"],
            ["wait", "cmp-out"],
            ["inspect", "--format", "{{.Path}} {{json .Args}} {{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{json .Config.Cmd}} {{json .Config.Env}} {{.Config.Image}} {{.Driver}} {{.Name}} {{.RestartCount}}", "cmp-out"],
            ["ps", "-a", "--filter", "name=cmp-out", "--format", "{{.Names}} {{.Command}} {{.State}} {{.Image}}"],
            ["rm", "cmp-out"],
        ];
        var dockerdErrors = dockerd.AssertSameAs(berthd, steps);
        // The comparison compared something: dockerd itself refused the second create and the rm of a running container.
        Assert.Contains("Conflict. The container name \"/cmp-a\" is already in use", dockerdErrors[1]);
        Assert.Contains("You cannot remove a running container", dockerdErrors[13]);
    }
}

/// <summary>A dockerd of the test's own, stopped and its mounts and state removed at Dispose.</summary>
public sealed class PrivateDockerd : IDisposable
{
    readonly System.Diagnostics.Process _process;
    readonly string _root;

    string CgroupParent => "berth-test-dockerd-" + Path.GetFileName(Path.GetDirectoryName(_root));

    PrivateDockerd(string root, System.Diagnostics.Process process)
    {
        _root = root;
        _process = process;
    }

    public string Socket => Path.Combine(_root, "d.sock");

    public static PrivateDockerd Start(string root)
    {
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "daemon.json"), "{}");
        var info = new System.Diagnostics.ProcessStartInfo("dockerd") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in (string[])["--config-file", Path.Combine(root, "daemon.json"), "--data-root", Path.Combine(root, "data"),
                     "--exec-root", Path.Combine(root, "exec"), "--host", "unix://" + Path.Combine(root, "d.sock"), "--pidfile", Path.Combine(root, "d.pid"),
                     "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
                     "--cgroup-parent", "/berth-test-dockerd-" + Path.GetFileName(Path.GetDirectoryName(root))])
            info.ArgumentList.Add(a);
        var process = System.Diagnostics.Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var daemon = new PrivateDockerd(root, process);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (daemon.Docker("version").ExitCode != 0)
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                daemon.Dispose();
                throw new InvalidOperationException($"dockerd did not answer on {daemon.Socket} within 60 s");
            }
            Thread.Sleep(250);
        }
        return daemon;
    }

    public ProcessResult Docker(params string[] args) =>
        Tools.Run("docker", ["-H", "unix://" + Socket, .. args],
            new Dictionary<string, string> { ["DOCKER_CONFIG"] = Path.Combine(_root, "cli") }, timeoutSeconds: 120);

    /// <summary>
    /// Runs each step against berthd and this dockerd and asserts the same exit code, stderr and stdout (ids replaced
    /// by &lt;id&gt;); returns dockerd's results as "exit N: stderr | stdout", for the caller to check they say something.
    /// </summary>
    public List<string> AssertSameAs(DaemonInstance berthd, string[][] steps)
    {
        var differences = new List<string>();
        var dockerdOutcomes = new List<string>();
        foreach (var step in steps)
        {
            string ours = Scenarios.Outcome(DockerCli.Docker(berthd, step)), theirs = Scenarios.Outcome(Docker(step));
            dockerdOutcomes.Add(theirs);
            if (ours != theirs) differences.Add($"docker {string.Join(' ', step)}\n  berthd:  {ours}\n  dockerd: {theirs}");
        }
        Assert.True(differences.Count == 0, string.Join("\n", differences));
        return dockerdOutcomes;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Berth.Linux.Libc.kill(_process.Id, 15);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30))) _process.Kill(entireProcessTree: true);
        }
        _process.WaitForExit();
        _process.Dispose();
        // dockerd leaves its data root's own mounts (overlay2 layers, plugins) mounted only while it runs; lazily unmount any left.
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo").Reverse())
        {
            var mountPoint = line.Split(' ')[4];
            if (mountPoint.StartsWith(_root + "/", StringComparison.Ordinal)) Berth.Linux.Libc.umount2(mountPoint, Berth.Linux.Libc.MNT_DETACH);
        }
        // Its cgroup parent, empty once its containers are gone.
        foreach (var hierarchy in Directory.GetDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup"))
        {
            string dir = Path.Combine(hierarchy, CgroupParent);
            if (Directory.Exists(dir)) Berth.Linux.Libc.unlinkat(Berth.Linux.Libc.AT_FDCWD, dir, Berth.Linux.Libc.AT_REMOVEDIR);
        }
    }
}
