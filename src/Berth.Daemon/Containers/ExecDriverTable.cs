using Berth.Daemon.Api;
using Berth.ExecDrivers;

namespace Berth.Daemon.Containers;

/// <summary>
/// The exec drivers a container may name in HostConfig.Runtime: "berth" (Berth.Runtime in the monitor's process,
/// state under <c>&lt;exec-root&gt;/runtime</c>), runc when it is on PATH, and every <c>--add-runtime NAME=PATH</c>
/// (an OCI binary with runc's command line, <c>--root &lt;exec-root&gt;/runtimes/NAME</c>).
/// </summary>
public sealed class ExecDriverTable
{
    public const string InProcess = "berth";
    readonly Dictionary<string, string?> _paths = new(StringComparer.Ordinal);
    readonly string _execRoot;

    /// <param name="added">--add-runtime entries, NAME=PATH.</param>
    /// <param name="defaultName">--default-runtime, or null for "berth".</param>
    public ExecDriverTable(string execRoot, IEnumerable<string> added, string? defaultName)
    {
        _execRoot = execRoot;
        _paths[InProcess] = null;
        if (FindOnPath("runc") is { } runc) _paths["runc"] = runc;
        foreach (var entry in added)
        {
            int eq = entry.IndexOf('=');
            if (eq <= 0 || eq == entry.Length - 1)
                throw new FormatException($"--add-runtime {entry}: expected NAME=PATH");
            string name = entry[..eq], path = entry[(eq + 1)..];
            if (name == InProcess) throw new FormatException($"--add-runtime {entry}: \"{InProcess}\" is the in-process driver's name");
            if (!Path.IsPathRooted(path)) path = FindOnPath(path) ?? throw new FormatException($"--add-runtime {entry}: {path} is not on PATH");
            if (!File.Exists(path)) throw new FormatException($"--add-runtime {entry}: {path} does not exist");
            _paths[name] = path;
        }
        Default = defaultName ?? InProcess;
        if (!_paths.ContainsKey(Default))
            throw new FormatException($"--default-runtime {Default}: no such runtime (known: {string.Join(", ", Names)})");
    }

    public string Default { get; }

    public IEnumerable<string> Names => _paths.Keys.Order(StringComparer.Ordinal);

    /// <summary>The binary of an OCI runtime driver; null for the in-process one (it runs in berth-monitor).</summary>
    public string? PathOf(string name) => _paths.GetValueOrDefault(name);

    /// <summary>The driver named by a create's HostConfig.Runtime (the default when empty); 400 with dockerd's text when unknown.</summary>
    public string Choose(string? requested)
    {
        string name = string.IsNullOrEmpty(requested) ? Default : requested;
        return _paths.ContainsKey(name) ? name : throw ApiException.BadRequest($"Unknown runtime specified {name}");
    }

    /// <summary>The monitor's description of a driver (and berthd opens the same one for Signal and Delete).</summary>
    public DriverSpec Spec(string name)
    {
        if (!_paths.TryGetValue(name, out var path))
            throw new ContainerRunnerException($"the container's runtime \"{name}\" is not configured in this berthd (--add-runtime {name}=PATH)");
        return path is null
            ? new DriverSpec { Name = InProcess, Root = Path.Combine(_execRoot, "runtime") }
            : new DriverSpec { Name = name, Path = path, Root = Path.Combine(_execRoot, "runtimes", name) };
    }

    static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
