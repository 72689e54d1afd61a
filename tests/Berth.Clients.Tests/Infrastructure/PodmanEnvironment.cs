using Xunit.Abstractions;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// Podman with private state: <c>--root</c>, <c>--runroot</c>, <c>--tmpdir</c>, a containers.conf and a storage.conf
/// of its own (through CONTAINERS_CONF / CONTAINERS_STORAGE_CONF), the settings this host needs
/// (podman-notes.md: rlimits within root's hard limits, no network, cgroupfs, file events) and a cgroup parent of
/// its own. The image is imported from a busybox-static rootfs tar. The runtime is chosen per command with
/// <c>--runtime PATH</c>, and podman calls it with no global flags, so berth-runtime's default state root is used.
/// </summary>
public sealed class PodmanEnvironment() : ClientEnvironment("podman")
{
    public const string Image = "localhost/berth-test/busybox:latest";

    private string _podman = "";
    private Dictionary<string, string> _environment = [];

    protected override void Start()
    {
        _podman = Requirements.Executable("podman");
        var conf = Scratch.Sub("containers.conf");
        File.WriteAllText(conf, $"""
            [containers]
            default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
            netns = "none"
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            events_logfile_path = "{Scratch.Sub("events.log")}"
            [network]
            network_config_dir = "{Scratch.Sub("networks")}"
            """);
        var storage = Scratch.Sub("storage.conf");
        File.WriteAllText(storage, $"""
            [storage]
            driver = "overlay"
            graphroot = "{Scratch.Sub("root")}"
            runroot = "{Scratch.Sub("runroot")}"
            """);
        _environment = new Dictionary<string, string> { ["CONTAINERS_CONF"] = conf, ["CONTAINERS_STORAGE_CONF"] = storage };

        var image = BusyboxImage.Build(Scratch.Sub());
        Tool.Check(Scratch.Path, _podman, [.. GlobalArguments(), "import", "-q", image.RootfsTar, Image],
            new ToolOptions { Environment = _environment }, SetupLog);
    }

    private string[] GlobalArguments() =>
        ["--root", Scratch.Sub("root"), "--runroot", Scratch.Sub("runroot"), "--tmpdir", Scratch.Sub("tmp")];

    private List<string> Arguments(RuntimeUnderTest runtime, IEnumerable<string> arguments) =>
        [.. GlobalArguments(), "--runtime", runtime.Path, .. arguments];

    /// <summary>Runs <c>podman ARGS</c> with this environment's state and <paramref name="runtime"/>.</summary>
    public ToolResult Podman(RuntimeUnderTest runtime, ITestOutputHelper output, params string[] arguments) =>
        Tool.Run(Scratch.Path, _podman, Arguments(runtime, arguments), new ToolOptions { Environment = _environment }, output.WriteLine);

    /// <summary>Runs <c>podman ARGS</c> on a pseudo-terminal, typing <paramref name="input"/>.</summary>
    public ToolResult PodmanOnPty(RuntimeUnderTest runtime, ITestOutputHelper output, string input, params string[] arguments) =>
        Pty.Run(Scratch.Path, _podman, Arguments(runtime, arguments), new ToolOptions { Environment = _environment, Stdin = input }, output.WriteLine);

    /// <summary>The start of a <c>podman run</c>: no pulls, this environment's cgroup parent.</summary>
    public string[] Run(params string[] flags) => ["run", "--pull", "never", "--cgroup-parent", CgroupParent, .. flags];

    protected override void Stop()
    {
        if (_podman.Length == 0)
            return;
        // Whatever a failed scenario left: podman remembers each container's runtime.
        Tool.Run(Scratch.Path, _podman, [.. GlobalArguments(), "rm", "--all", "--force", "--time", "0"],
            new ToolOptions { Environment = _environment });
    }
}
