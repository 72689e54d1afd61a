using System.CommandLine;
using Berth.Runtime.State;

namespace Berth.Runtime.Cli;

/// <summary>runc's global flags, accepted before or after the verb.</summary>
public sealed class GlobalOptions
{
    public Option<string> Root { get; } = new("--root")
    {
        Description = "root directory for storage of container state (this should be located in tmpfs)",
        DefaultValueFactory = _ => StateStore.DefaultRoot,
        Recursive = true,
    };
    public Option<string?> Log { get; } = new("--log") { Description = "set the log file to write runtime logs to (default is stderr)", Recursive = true };
    public Option<string> LogFormat { get; } = new("--log-format")
    {
        Description = "set the log format ('text' (default), or 'json')",
        DefaultValueFactory = _ => "text",
        Recursive = true,
    };
    public Option<bool> Debug { get; } = new("--debug") { Description = "enable debug logging", Recursive = true };
    public Option<bool> SystemdCgroup { get; } = new("--systemd-cgroup") { Description = "use systemd for cgroups (refused: not supported yet)", Recursive = true };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Root);
        root.Options.Add(Log);
        root.Options.Add(LogFormat);
        root.Options.Add(Debug);
        root.Options.Add(SystemdCgroup);
        LogFormat.AcceptOnlyFromAmong("text", "json");
    }

    public RuntimeLog LogFrom(ParseResult p) => new()
    {
        File = p.GetValue(Log),
        Json = p.GetValue(LogFormat) == "json",
        Debug = p.GetValue(Debug),
    };

    /// <summary>
    /// Runs a verb: every failure becomes one error line (stderr, and --log in its format) and exit status 1,
    /// as with runc.
    /// </summary>
    /// <param name="failureExitCode">1, or 255 for `exec` (runc's).</param>
    /// <param name="errorPrefix">Put before every error message ("exec failed: ", as runc).</param>
    public int Run(ParseResult p, Func<StateStore, RuntimeLog, int> verb, int failureExitCode = 1, string errorPrefix = "")
    {
        var log = LogFrom(p);
        if (log.Debug) DebugLog.RouteTo(log.DebugLine);
        try
        {
            if (p.GetValue(SystemdCgroup))
                throw new ContainerException("--systemd-cgroup: the systemd cgroup driver is not supported (and systemd is not running here); use the cgroupfs driver");
            return verb(new StateStore(p.GetValue(Root)!), log);
        }
        catch (Exception e) when (e is ContainerException or Berth.Linux.LinuxException or Oci.SpecException
                                   or Cgroups.CgroupException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            log.Error(errorPrefix + e.Message);
            return failureExitCode;
        }
    }
}
