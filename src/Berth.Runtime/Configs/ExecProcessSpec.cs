using System.Globalization;
using System.Text.Json;
using Berth.Oci;

namespace Berth.Runtime.Configs;

/// <summary>The process flags of `exec` (everything but --process), as given on the command line.</summary>
public sealed record ExecFlags
{
    public IReadOnlyList<string> Args { get; init; } = [];
    public string? Cwd { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    /// <summary>"uid" or "uid:gid", numeric as with runc.</summary>
    public string? User { get; init; }
    public IReadOnlyList<string> AdditionalGids { get; init; } = [];
    public IReadOnlyList<string> Capabilities { get; init; } = [];
    public bool NoNewPrivileges { get; init; }
    /// <summary>--tty: process.terminal.</summary>
    public bool Tty { get; init; }
}

/// <summary>
/// The OCI process an `exec` runs, and its conversion to what the spawn stage applies. Pure functions, apart from
/// <see cref="Load"/> which reads the --process file.
/// </summary>
public static class ExecProcessSpec
{
    /// <summary>
    /// runc's rules for inline args: the container's process with its args replaced, --env appended, --cwd, --user
    /// and --no-new-privs overriding, --additional-gids appended, and each --cap added to the bounding, effective and
    /// permitted sets (not inheritable, so not ambient either: runc 1.1.5 behaves so).
    /// </summary>
    /// <exception cref="ArgumentException">A flag value that does not parse; the message names it.</exception>
    public static Process FromFlags(Process container, ExecFlags flags)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(flags);
        if (flags.Args.Count == 0) throw new ArgumentException("process args cannot be empty (give a command, or --process FILE)");

        var user = new User
        {
            Uid = container.User.Uid,
            Gid = container.User.Gid,
            Umask = container.User.Umask,
            AdditionalGids = [.. container.User.AdditionalGids ?? []],
            Username = container.User.Username,
        };
        if (!string.IsNullOrEmpty(flags.User))
        {
            var parts = flags.User.Split(':');
            if (parts.Length > 2) throw new ArgumentException($"--user {flags.User}: expected uid or uid:gid");
            user.Uid = ParseId(parts[0], $"--user {flags.User}", "uid");
            if (parts.Length == 2) user.Gid = ParseId(parts[1], $"--user {flags.User}", "gid");
        }
        foreach (var g in flags.AdditionalGids) user.AdditionalGids.Add(ParseId(g, $"--additional-gids {g}", "gid"));

        LinuxCapabilities? caps = container.Capabilities is { } c
            ? new LinuxCapabilities
            {
                Bounding = c.Bounding is null ? null : [.. c.Bounding],
                Effective = c.Effective is null ? null : [.. c.Effective],
                Inheritable = c.Inheritable is null ? null : [.. c.Inheritable],
                Permitted = c.Permitted is null ? null : [.. c.Permitted],
                Ambient = c.Ambient is null ? null : [.. c.Ambient],
            }
            : null;
        if (flags.Capabilities.Count > 0)
        {
            caps ??= new LinuxCapabilities();
            foreach (var cap in flags.Capabilities)
            {
                if (!Configs.Capabilities.TryParse(cap, out _)) throw new ArgumentException($"--cap {cap}: unknown capability");
                (caps.Bounding ??= []).Add(cap);
                (caps.Effective ??= []).Add(cap);
                (caps.Permitted ??= []).Add(cap);
            }
        }

        return new Process
        {
            Terminal = flags.Tty,
            User = user,
            Args = [.. flags.Args],
            Env = [.. container.Env ?? [], .. flags.Env],
            Cwd = flags.Cwd ?? container.Cwd,
            Capabilities = caps,
            Rlimits = container.Rlimits,
            NoNewPrivileges = container.NoNewPrivileges || flags.NoNewPrivileges,
            ApparmorProfile = container.ApparmorProfile,
            OomScoreAdj = container.OomScoreAdj,
            SelinuxLabel = container.SelinuxLabel,
            Scheduler = container.Scheduler,
            IoPriority = container.IoPriority,
            ExecCpuAffinity = container.ExecCpuAffinity,
        };
    }

    /// <summary>Reads an OCI process JSON (`exec --process FILE`); errors name the file.</summary>
    public static Process Load(string path)
    {
        string json = SpecLoader.ReadText(path, $"--process {path}");
        try
        {
            return JsonSerializer.Deserialize(json, OciJsonContext.Default.Process)
                ?? throw new SpecException($"--process {path}: the process is null (expected a JSON object)");
        }
        catch (JsonException e)
        {
            throw new SpecException($"--process {path}: {SpecLoader.DescribeJsonError(e)}", e);
        }
    }

    /// <summary>
    /// The exec's process → the runtime's <see cref="ProcessConfig"/>, with runc's defaults from the container: its
    /// capabilities when the process has none, its rlimits when the process has none. The environment is
    /// de-duplicated, the later value of a name winning (where the first one stood). The container's seccomp filter
    /// always applies and is not part of the process.
    /// </summary>
    /// <param name="source">Where the process came from ("--process FILE", or the container's config.json), for errors.</param>
    /// <exception cref="SpecException">The process breaks a rule, or asks for something this runtime cannot do.</exception>
    public static ProcessConfig Convert(Process exec, ProcessConfig container, string source)
    {
        ArgumentNullException.ThrowIfNull(exec);
        ArgumentNullException.ThrowIfNull(container);
        var errors = SpecValidator.ValidateProcess(exec, "$").ToList();
        for (int i = 0; i < (exec.Env?.Count ?? 0); i++)
        {
            if (exec.Env![i] is not { } e || !e.Contains('=') || e.StartsWith('='))
                errors.Add(new ValidationError($"$.env[{i}]", $"invalid environment variable \"{exec.Env[i]}\" (expected NAME=value)"));
        }
        if (errors.Count > 0)
            throw new SpecException($"{source}: invalid process: {string.Join("; ", errors)}", errors);
        var unsupported = Unsupported(exec);
        if (unsupported.Count > 0) throw new SpecException($"{source}: {string.Join("; ", unsupported)}");

        var converted = ConfigConverter.ConvertProcess(exec);
        return converted with
        {
            Env = Deduplicate(converted.Env),
            Capabilities = exec.Capabilities is null ? container.Capabilities : converted.Capabilities,
            Rlimits = exec.Rlimits is { Count: > 0 } ? converted.Rlimits : container.Rlimits,
        };
    }

    /// <summary>Ambient capabilities the kernel will not raise (not both permitted and inheritable): the stage skips them.</summary>
    public static IEnumerable<string> UnraisableAmbient(CapabilitySet? caps) =>
        caps is null ? [] : Configs.Capabilities.NamesOf(caps.Ambient & ~(caps.Permitted & caps.Inheritable));

    static List<string> Unsupported(Process p)
    {
        var found = new List<string>();
        void Add(bool present, string path, string what)
        {
            if (present) found.Add($"{path}: {what} is not supported by this berth-runtime");
        }
        Add(p.Scheduler is not null, "$.scheduler", "a scheduling policy");
        Add(p.IoPriority is not null, "$.ioPriority", "an I/O priority");
        Add(p.ExecCpuAffinity is { Count: > 0 }, "$.execCPUAffinity", "a CPU affinity");
        Add(!string.IsNullOrEmpty(p.ApparmorProfile), "$.apparmorProfile", "an AppArmor profile (AppArmor is not enabled on this host)");
        Add(!string.IsNullOrEmpty(p.SelinuxLabel), "$.selinuxLabel", "an SELinux label (SELinux is not enabled on this host)");
        return found;
    }

    static List<string> Deduplicate(IReadOnlyList<string> env)
    {
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var e in env)
        {
            string name = e[..e.IndexOf('=')];
            if (position.TryGetValue(name, out int at)) result[at] = e;
            else
            {
                position[name] = result.Count;
                result.Add(e);
            }
        }
        return result;
    }

    static uint ParseId(string text, string flag, string what) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint id)
            ? id
            : throw new ArgumentException($"{flag}: {what} \"{text}\" must be a number");
}
