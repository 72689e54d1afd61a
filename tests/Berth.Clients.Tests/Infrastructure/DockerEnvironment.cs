using Xunit.Abstractions;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// A dockerd of its own: <c>--data-root</c>, <c>--exec-root</c>, a unix socket, a pid file and an empty daemon.json
/// under the scratch directory, no bridge and no firewall changes, its own cgroup parent, and the containerd it
/// manages itself (state under the exec root). Both runtimes are registered by path: <c>berth</c> and
/// <c>ref-runc</c>. The docker CLI gets a private DOCKER_CONFIG. The image is loaded from a docker archive.
/// </summary>
public class DockerEnvironment : ClientEnvironment
{
    private readonly bool _inNetns;

    public DockerEnvironment() : this(inNetns: false) { }

    /// <param name="inNetns">Runs dockerd in a network namespace the fixture makes (<see cref="NetnsDockerEnvironment"/>).</param>
    protected DockerEnvironment(bool inNetns) : base(inNetns ? "dockerd-net" : "dockerd") => _inNetns = inNetns;

    public const string Image = BusyboxImage.Tag;

    private string _docker = "";
    private Daemon? _dockerd;
    private Dictionary<string, string> _environment = [];

    public string Socket => Scratch.Sub("d.sock");

    public static string RuntimeName(RuntimeUnderTest runtime) => runtime == ComparedRuntimes.Berth ? "berth" : "ref-runc";

    protected override void Start()
    {
        _docker = Requirements.Executable("docker");
        var dockerd = Requirements.Executable("dockerd");
        File.WriteAllText(Scratch.Sub("daemon.json"), "{}");
        _environment = new Dictionary<string, string> { ["DOCKER_CONFIG"] = Scratch.Sub("cli") };
        string[] inNetns = [];
        if (_inNetns)
        {
            HostLinksBefore = HostLinks();
            File.WriteAllBytes(Netns, []);
            Checked(Tool.Run(Scratch.Path, "unshare", ["--net=" + Netns, "true"]));
            Checked(Tool.Run(Scratch.Path, "nsenter", ["--net=" + Netns, "ip", "link", "set", "lo", "up"]));
            SetupLog($"network namespace {Netns}");
            // nsenter execs dockerd in its own process: the pid and signals are dockerd's. Subnets only from 198.18.0.0/15.
            inNetns = ["--net=" + Netns, "--", dockerd, "--default-address-pool", "base=198.18.128.0/17,size=24"];
        }
        _dockerd = Daemon.Start(_inNetns ? Requirements.Executable("nsenter") : dockerd, [
            .. inNetns,
            "--config-file", Scratch.Sub("daemon.json"),
            "--data-root", Scratch.Sub("data"),
            "--exec-root", Scratch.Sub("exec"),
            "--host", "unix://" + Socket,
            "--pidfile", Scratch.Sub("dockerd.pid"),
            "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
            "--cgroup-parent", CgroupParent,
            "--add-runtime", "berth=" + ComparedRuntimes.Berth.Path,
            "--add-runtime", "ref-runc=" + ComparedRuntimes.Runc.Path,
        ], Scratch.Sub("dockerd.log"));
        SetupLog($"started `{_dockerd.CommandLine}` (pid {_dockerd.Pid})");
        _dockerd.WaitUntilReady(() => File.Exists(Socket) && Docker(SetupLog, "version").ExitCode == 0, TimeSpan.FromSeconds(60));
        var image = BusyboxImage.Build(Scratch.Sub());
        var load = Docker(SetupLog, "load", "--input", image.DockerArchive);
        if (load.ExitCode != 0)
            throw new InvalidOperationException($"docker load failed: {load}");
    }

    /// <summary>The file the network namespace is kept in (when the fixture has one).</summary>
    public string Netns => Scratch.Sub("netns");

    /// <summary>The host's links (`ip -br link`, names only) before the fixture made its namespace.</summary>
    public IReadOnlyList<string> HostLinksBefore { get; private set; } = [];

    /// <summary>The names of the links in the host's (the test process's) network namespace.</summary>
    public static IReadOnlyList<string> HostLinks() =>
        [.. Checked(Tool.Run("/tmp", "ip", ["-br", "link"])).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0].Split('@')[0]).Order(StringComparer.Ordinal)];

    private static ToolResult Checked(ToolResult result) =>
        result.ExitCode == 0 ? result : throw new InvalidOperationException(result.ToString());

    private ToolResult Docker(Action<string>? log, params string[] arguments) =>
        Tool.Run(Scratch.Path, _docker, ["--host", "unix://" + Socket, .. arguments], new ToolOptions { Environment = _environment }, log);

    /// <summary>Runs <c>docker --host SOCKET ARGS</c>.</summary>
    public ToolResult Docker(ITestOutputHelper output, params string[] arguments) => Docker(output.WriteLine, arguments);

    /// <summary>Runs <c>docker ... ARGS</c> on a pseudo-terminal, typing <paramref name="input"/>.</summary>
    public ToolResult DockerOnPty(ITestOutputHelper output, string input, params string[] arguments) =>
        Pty.Run(Scratch.Path, _docker, ["--host", "unix://" + Socket, .. arguments], new ToolOptions { Environment = _environment, Stdin = input }, output.WriteLine);

    /// <summary>The start of a <c>docker run</c> on <paramref name="runtime"/>, without a network.</summary>
    public static string[] Run(RuntimeUnderTest runtime, params string[] flags) => ["run", "--runtime", RuntimeName(runtime), "--network", "none", .. flags];

    /// <summary>The cgroup v1 file of a container (dockerd puts it at CGROUP_PARENT/ID), read from the host.</summary>
    public string ReadCgroupFile(string controller, string file, string containerId)
    {
        var path = Path.Combine("/sys/fs/cgroup", controller, CgroupParent.TrimStart('/'), containerId, file);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : $"(no {path})";
    }

    protected override void Stop()
    {
        if (_dockerd is null)
            return;
        if (!_dockerd.HasExited)
        {
            var all = Docker((Action<string>?)null, "ps", "--all", "--quiet").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (all.Length > 0)
                Docker((Action<string>?)null, ["rm", "--force", .. all]);
        }
        // dockerd stops the containerd it started; one that outlives it is killed by its pid file.
        var clean = _dockerd.Stop(TimeSpan.FromSeconds(20));
        _dockerd.Dispose();
        var containerdPid = Scratch.Sub("exec", "containerd", "containerd.pid");
        if (File.Exists(containerdPid) && int.TryParse(File.ReadAllText(containerdPid).Trim(), out var pid) && Directory.Exists($"/proc/{pid}")
            && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Scratch.Path))
        {
            Tool.Run("/tmp", "kill", ["-KILL", pid.ToString()]);
        }
        if (_inNetns)
        {
            // Unmounting the last reference deletes what dockerd left in the namespace (bridges, veth pairs).
            Tool.Run("/tmp", "umount", ["-l", Netns]);
            File.Delete(Netns);
            var after = HostLinks();
            if (!after.SequenceEqual(HostLinksBefore))
                throw new InvalidOperationException($"the host's links changed: before [{string.Join(' ', HostLinksBefore)}], after [{string.Join(' ', after)}]");
        }
        if (!clean)
            throw new InvalidOperationException($"dockerd did not stop on SIGTERM within 20 s and was killed:\n{_dockerd.LogTail()}");
    }
}

/// <summary>The same dockerd in a network namespace of its own, so that its bridges never reach the host's network.</summary>
public sealed class NetnsDockerEnvironment() : DockerEnvironment(inNetns: true);
