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
}
