using Xunit.Abstractions;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// A containerd of its own: a config file with root, state, gRPC and ttrpc addresses under the scratch directory (no
/// CRI plugin), started in the background and stopped at the end; <c>ctr</c> talks to it on that socket, in a
/// namespace named after the scratch directory (which also names the containers' cgroup parent, <c>/NAMESPACE</c>).
/// The busybox image is imported from a docker archive. The runtime is chosen per container with
/// <c>ctr run --runc-binary PATH</c>, with a private <c>--runc-root</c> per runtime.
/// </summary>
public sealed class ContainerdEnvironment() : ClientEnvironment("ctrd")
{
    public const string Image = "docker.io/" + BusyboxImage.Tag;

    private string _ctr = "";
    private Daemon? _containerd;

    public string Socket => Scratch.Sub("c.sock");

    /// <summary>The containerd namespace of this environment; ctr puts containers in cgroup /NAMESPACE/ID.</summary>
    public string Namespace => System.IO.Path.GetFileName(Scratch.Path).ToLowerInvariant();

    protected override void Start()
    {
        _ctr = Requirements.Executable("ctr");
        var containerd = Requirements.Executable("containerd");
        var config = Scratch.Sub("config.toml");
        File.WriteAllText(config, $"""
            version = 2
            root = "{Scratch.Sub("root")}"
            state = "{Scratch.Sub("state")}"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "{Socket}"
            [ttrpc]
              address = "{Socket}.ttrpc"
            [debug]
              address = ""
            [metrics]
              address = ""
            [plugins."io.containerd.internal.v1.opt"]
              path = "{Scratch.Sub("opt")}"
            """);
        _containerd = Daemon.Start(containerd, ["--config", config], Scratch.Sub("containerd.log"));
        SetupLog($"started `{_containerd.CommandLine}` (pid {_containerd.Pid})");
        _containerd.WaitUntilReady(() => File.Exists(Socket) && Tool.Run(Scratch.Path, _ctr, ["-a", Socket, "version"]).ExitCode == 0,
            TimeSpan.FromSeconds(30));

        var image = BusyboxImage.Build(Scratch.Sub());
        Tool.Check(Scratch.Path, _ctr, ["-a", Socket, "-n", Namespace, "images", "import", image.DockerArchive], log: SetupLog);
    }

    /// <summary>Runs <c>ctr -a SOCKET -n NAMESPACE ARGS</c>.</summary>
    public ToolResult Ctr(ITestOutputHelper output, params string[] arguments) =>
        Tool.Run(Scratch.Path, _ctr, ["-a", Socket, "-n", Namespace, .. arguments], log: output.WriteLine);

    /// <summary>Runs <c>ctr ... ARGS</c> on a pseudo-terminal, typing <paramref name="input"/>.</summary>
    public ToolResult CtrOnPty(ITestOutputHelper output, string input, params string[] arguments) =>
        Pty.Run(Scratch.Path, _ctr, ["-a", Socket, "-n", Namespace, .. arguments], new ToolOptions { Stdin = input }, output.WriteLine);

    /// <summary>The start of a <c>ctr run</c> on <paramref name="runtime"/>, with that runtime's private state root.</summary>
    public string[] Run(RuntimeUnderTest runtime, params string[] flags) =>
        ["run", "--runc-binary", runtime.Path, "--runc-root", Scratch.Sub("runtime-state", runtime == ComparedRuntimes.Berth ? "berth" : "runc"), .. flags];

    /// <summary>The task's status in <c>ctr task ls</c> (RUNNING, PAUSED, STOPPED), or "absent".</summary>
    public string TaskStatus(ITestOutputHelper output, string id)
    {
        foreach (var line in Ctr(output, "task", "ls").Stdout.Split('\n').Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 3 && fields[0] == id)
                return fields[2];
        }
        return "absent";
    }

    /// <summary>Kills and deletes a task and its container, whatever state a failed scenario left them in.</summary>
    public void Remove(ITestOutputHelper? output, string id)
    {
        Action<string>? log = output is null ? null : output.WriteLine;
        Tool.Run(Scratch.Path, _ctr, ["-a", Socket, "-n", Namespace, "task", "delete", "--force", id], log: log);
        Tool.Run(Scratch.Path, _ctr, ["-a", Socket, "-n", Namespace, "container", "delete", id], log: log);
    }

    protected override void Stop()
    {
        if (_containerd is null)
            return;
        if (!_containerd.HasExited)
        {
            var containers = Tool.Run(Scratch.Path, _ctr, ["-a", Socket, "-n", Namespace, "container", "ls", "--quiet"]).Stdout;
            foreach (var id in containers.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Remove(null, id);
        }
        _containerd.Dispose();
        foreach (var left in Cgroups.RemoveEverywhere("/" + Namespace))
            throw new InvalidOperationException($"cgroup still busy: {left}");
    }
}
