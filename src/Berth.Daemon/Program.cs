using System.CommandLine;
using Berth.Api;
using Berth.Daemon.Hosting;

if (Berth.Linux.SupportedPlatform.Refusal("berthd") is { } refusal)
{
    Console.Error.WriteLine(refusal);
    return 1;
}
var dataRoot = new Option<string>("--data-root") { Description = "where images and state are kept", DefaultValueFactory = _ => DaemonOptions.DefaultDataRoot };
var execRoot = new Option<string>("--exec-root") { Description = "runtime state (pid file)", DefaultValueFactory = _ => DaemonOptions.DefaultExecRoot };
var host = new Option<string>("--host", "-H") { Description = "the socket to listen on, unix://PATH", DefaultValueFactory = _ => DaemonHost.Default.ToString() };
var logLevel = new Option<string>("--log-level", "-l") { Description = "debug, info, warn or error", DefaultValueFactory = _ => "info" };
var ociRuntime = new Option<string?>("--oci-runtime") { Description = "the OCI runtime binary containers run with (default: berth-runtime beside berthd, else runc)" };
var root = new RootCommand("berthd: the Berth daemon, serving the Docker Engine API on a unix socket") { dataRoot, execRoot, host, logLevel, ociRuntime };
root.SetAction(async (parse, _) =>
{
    DaemonOptions options;
    try
    {
        options = new DaemonOptions(
            DataRoot: Absolute(parse.GetValue(dataRoot)!, "--data-root"),
            ExecRoot: Absolute(parse.GetValue(execRoot)!, "--exec-root"),
            Host: DaemonHost.Parse(parse.GetValue(host)!),
            LogLevel: DaemonLog.ParseLevel(parse.GetValue(logLevel)!))
        {
            OciRuntime = parse.GetValue(ociRuntime) is { } runtime ? Absolute(runtime, "--oci-runtime") : null,
        };
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine($"berthd: {e.Message}");
        return 1;
    }
    var log = new DaemonLog(options.LogLevel);
    log.Info("starting berthd", ("version", EngineInfo.BuildVersion().Version), ("pid", Environment.ProcessId));
    return await new BerthDaemon(options, log).RunAsync();
});
// BerthDaemon handles SIGTERM and SIGINT itself (a clean stop, exit 0); System.CommandLine's own handler would
// race it and end the process with 143 when the stop takes a moment.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static string Absolute(string path, string flag) =>
    Path.IsPathRooted(path) ? Path.TrimEndingDirectorySeparator(path) is { Length: > 0 } p ? p : "/"
        : throw new FormatException($"{flag} {path}: must be an absolute path");
