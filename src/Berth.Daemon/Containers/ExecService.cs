using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Daemon.Api;
using Berth.Engine;
using Berth.ExecDrivers;

namespace Berth.Daemon.Containers;

/// <summary>POST /containers/{id}/exec: dockerd's ExecConfig, the fields berthd uses.</summary>
public sealed class ExecCreateRequest
{
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public bool Tty { get; set; }
    public bool Privileged { get; set; }
    public string? User { get; set; }
    public string? WorkingDir { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Cmd { get; set; }
    public string? DetachKeys { get; set; }
    public uint[]? ConsoleSize { get; set; }
}

/// <summary>GET /exec/{id}/json.</summary>
public sealed class ExecInspectResponse
{
    public bool CanRemove { get; set; }
    public string ContainerID { get; set; } = "";
    public string DetachKeys { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? ExitCode { get; set; }
    public string ID { get; set; } = "";
    public bool OpenStderr { get; set; }
    public bool OpenStdin { get; set; }
    public bool OpenStdout { get; set; }
    public ExecProcessConfig ProcessConfig { get; set; } = new();
    public bool Running { get; set; }
    public int Pid { get; set; }
}

public sealed class ExecProcessConfig
{
    [JsonPropertyName("arguments")] public List<string> Arguments { get; set; } = [];
    [JsonPropertyName("entrypoint")] public string Entrypoint { get; set; } = "";
    [JsonPropertyName("privileged")] public bool Privileged { get; set; }
    [JsonPropertyName("tty")] public bool Tty { get; set; }
    [JsonPropertyName("user")] public string User { get; set; } = "";
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(ExecCreateRequest))]
[JsonSerializable(typeof(ExecInspectResponse))]
public sealed partial class ExecJsonContext : JsonSerializerContext;

/// <summary>
/// docker exec: configs recorded in memory at create (as dockerd keeps them), run at start through the container's
/// monitor (its <c>exec</c> op: the process is the monitor's child), its exit fetched with <c>exec-wait</c>.
/// </summary>
public sealed class ExecService(ContainerService containers)
{
    static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(30);
    readonly ConcurrentDictionary<string, ExecEntry> _execs = new(StringComparer.Ordinal);

    sealed class ExecEntry(string id, string containerId, ExecCreateRequest config)
    {
        public string Id { get; } = id;
        public string ContainerId { get; } = containerId;
        public ExecCreateRequest Config { get; } = config;
        public bool Started { get; set; }
        public bool Running { get; set; }
        public int Pid { get; set; }
        public int? ExitCode { get; set; }
    }

    /// <summary>POST /containers/{id}/exec: the new exec's id; 409 when the container does not run.</summary>
    public string Create(string reference, ExecCreateRequest config)
    {
        var record = containers.Get(reference);
        if (config.Cmd is not { Count: > 0 }) throw ApiException.BadRequest("No exec command specified");
        if (!record.Running) throw ApiException.Conflict($"Container {record.Id} is not running");
        if (record.State.Status == "restarting") throw ApiException.Conflict($"Container {record.Id} is restarting, wait until the container is running");
        if (record.State.Status == "paused") throw ApiException.Conflict($"Container {reference} is paused, unpause the container before exec");
        string id = ContainerNames.NewId();
        _execs[id] = new ExecEntry(id, record.Id, config);
        containers.PublishExec(record, ExecEvents.Create(config.Cmd), ExecEvents.Attributes(id));
        return id;
    }

    ExecEntry Get(string id) => _execs.TryGetValue(id, out var e) ? e : throw ApiException.NotFound($"No such exec instance: {id}");

    /// <summary>GET /exec/{id}/json.</summary>
    public ExecInspectResponse Inspect(string id)
    {
        var e = Get(id);
        return new ExecInspectResponse
        {
            ID = e.Id,
            ContainerID = e.ContainerId,
            Running = e.Running,
            ExitCode = e.ExitCode,
            Pid = e.Pid,
            OpenStdin = e.Config.AttachStdin,
            OpenStdout = e.Config.AttachStdout,
            OpenStderr = e.Config.AttachStderr,
            DetachKeys = e.Config.DetachKeys ?? "",
            ProcessConfig = new ExecProcessConfig
            {
                Entrypoint = e.Config.Cmd![0],
                Arguments = [.. e.Config.Cmd.Skip(1)],
                Privileged = e.Config.Privileged,
                Tty = e.Config.Tty,
                User = e.Config.User ?? "",
            },
        };
    }

    /// <summary>
    /// POST /exec/{id}/start: runs the process in the container; the stream of its output (and stdin, when it was
    /// asked for at create). <see cref="FinishAsync"/> records the exit once the stream has ended.
    /// </summary>
    public (Stream Stream, bool Tty, bool Stdin) Start(string id, bool detach)
    {
        var e = Get(id);
        lock (e)
        {
            if (e.Started) throw ApiException.Conflict($"Error: Exec command {id} has already run");
            e.Started = true;
        }
        var record = containers.Get(e.ContainerId);
        if (!record.Running) throw ApiException.Conflict($"Container {record.Id} is not running");
        try
        {
            var monitor = containers.Runner.Monitor(record.Id);
            var process = ProcessFor(containers.BundleOf(record.Id), record, e.Config);
            containers.PublishExec(record, ExecEvents.Start(e.Config.Cmd!), ExecEvents.Attributes(id));
            bool stdin = e.Config.AttachStdin && !detach;
            var (pid, stream) = monitor.Exec(process, e.Config.Tty, stdin);
            e.Pid = pid;
            e.Running = true;
            return (stream, e.Config.Tty, stdin);
        }
        catch (Exception ex) when (ex is MonitorException or ContainerRunnerException or ContainerConfigException)
        {
            e.Running = false;
            throw new ApiException(ex is ContainerConfigException ? 400 : 500, ex.Message, ex);
        }
    }

    /// <summary>After the exec's output ended: its exit code from the monitor (bounded), recorded for inspect.</summary>
    public Task FinishAsync(string id) => Task.Run(() =>
    {
        var e = Get(id);
        try
        {
            e.ExitCode = containers.Runner.Monitor(e.ContainerId).ExecWait(e.Pid, ExitBound);
            if (containers.Store.Find(e.ContainerId) is { } record) containers.PublishExec(record, ExecEvents.Die, ExecEvents.Attributes(id, e.ExitCode));
        }
        catch (Exception ex) when (ex is MonitorException or ContainerRunnerException)
        {
            // The container ended with it (its monitor is gone): as dockerd, the exec's code is then unknown.
            e.ExitCode ??= 126;
        }
        e.Running = false;
    });

    /// <summary>POST /exec/{id}/resize.</summary>
    public void Resize(string id, int height, int width)
    {
        var e = Get(id);
        if (!e.Running) throw ApiException.Conflict($"Exec {id} is not running");
        try
        {
            containers.Runner.Monitor(e.ContainerId).ExecResize(e.Pid, width, height);
        }
        catch (Exception ex) when (ex is MonitorException or ContainerRunnerException)
        {
            throw new ApiException(500, ex.Message, ex);
        }
    }

    /// <summary>The container's own process (its config.json: capabilities, rlimits, AppArmor, ...) with the exec's command, environment, user and directory, as dockerd derives it.</summary>
    internal static Oci.Process ProcessFor(string bundle, ContainerRecordFile record, ExecCreateRequest config)
    {
        string bundleConfig = Path.Combine(bundle, "config.json");
        var spec = JsonSerializer.Deserialize(File.ReadAllBytes(bundleConfig), Oci.OciJsonContext.Default.Spec)
                   ?? throw new ContainerRunnerException($"{bundleConfig} is null");
        var process = spec.Process ?? new Oci.Process();
        process.Args = [.. config.Cmd!];
        process.Terminal = config.Tty;
        process.ConsoleSize = null;
        if (config.Env is { Count: > 0 } env)
        {
            var merged = new List<string>(process.Env ?? []);
            foreach (var entry in env)
            {
                string key = entry.Split('=', 2)[0];
                merged.RemoveAll(x => x.Split('=', 2)[0] == key);
                merged.Add(entry);
            }
            process.Env = merged;
        }
        if (!string.IsNullOrEmpty(config.WorkingDir)) process.Cwd = config.WorkingDir;
        if (!string.IsNullOrEmpty(config.User) && spec.Root is { } root)
        {
            string rootfs = Path.IsPathRooted(root.Path) ? root.Path : Path.Combine(bundle, root.Path);
            var user = ExecUserResolver.Resolve(config.User, record.HostConfig.GroupAdd, new RootfsUsers(rootfs));
            process.User = new Oci.User { Uid = user.Uid, Gid = user.Gid, AdditionalGids = [.. user.AdditionalGids], Umask = process.User.Umask };
        }
        return process;
    }
}

/// <summary>
/// dockerd's exec events, for docker exec and health probes alike: exec_create and exec_start name the command as
/// dockerd joins it (the entrypoint, a space, then the arguments: "true " for a command alone), each carries the
/// exec's id, exec_die its exit code too.
/// </summary>
static class ExecEvents
{
    public const string Die = "exec_die";

    public static string Create(IReadOnlyList<string> command) => "exec_create: " + Text(command);

    public static string Start(IReadOnlyList<string> command) => "exec_start: " + Text(command);

    static string Text(IReadOnlyList<string> command) => command[0] + " " + string.Join(' ', command.Skip(1));

    public static Dictionary<string, string> Attributes(string execId, int? exitCode = null) => exitCode is { } code
        ? new() { ["execID"] = execId, ["exitCode"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture) }
        : new() { ["execID"] = execId };
}
