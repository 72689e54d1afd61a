using Berth.Api;

namespace Berth.Daemon.Hosting;

/// <summary>berthd's settings, from its flags.</summary>
public sealed record DaemonOptions(string DataRoot, string ExecRoot, DaemonHost Host, LogLevel LogLevel)
{
    public const string DefaultDataRoot = "/var/lib/berth";
    public const string DefaultExecRoot = "/run/berth";

    public string LockFile => Path.Combine(DataRoot, "berthd.lock");
    public string PidFile => Path.Combine(ExecRoot, "berthd.pid");
    public string EngineIdFile => Path.Combine(DataRoot, "engine-id");

    /// <summary>--oci-runtime: the OCI runtime binary containers run with (default: berth-runtime beside berthd, else runc).</summary>
    public string? OciRuntime { get; init; }

    /// <summary>The runtime binary to use: <see cref="OciRuntime"/>, berth-runtime beside berthd's executable, or runc on PATH.</summary>
    public string ResolveOciRuntime()
    {
        if (OciRuntime is { Length: > 0 } explicitPath) return explicitPath;
        string beside = Path.Combine(Path.GetDirectoryName(Environment.ProcessPath) ?? "/", "berth-runtime");
        if (File.Exists(beside)) return beside;
        return (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin").Split(':')
            .Select(d => Path.Combine(d, "runc")).FirstOrDefault(File.Exists) ?? beside;
    }
}
