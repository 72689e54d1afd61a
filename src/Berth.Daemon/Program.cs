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
var addRuntime = new Option<string[]>("--add-runtime") { Description = "an OCI runtime binary containers may choose (docker run --runtime NAME), NAME=PATH; repeatable", DefaultValueFactory = _ => [] };
var defaultRuntime = new Option<string?>("--default-runtime") { Description = "the runtime of containers that choose none (default: berth, the in-process driver)" };
var addressPool = new Option<string[]>("--default-address-pool") { Description = "where networks created without a subnet take theirs, base=CIDR,size=PREFIX; repeatable (default: dockerd's 172.17-31.0.0/16 and 192.168.0.0/16 in /20s)", DefaultValueFactory = _ => [] };
var root = new RootCommand("berthd: the Berth daemon, serving the Docker Engine API on a unix socket") { dataRoot, execRoot, host, logLevel, addRuntime, defaultRuntime, addressPool };
root.SetAction(async (parse, _) =>
{
    DaemonOptions options;
    try
    {
        string exec = Absolute(parse.GetValue(execRoot)!, "--exec-root");
        options = new DaemonOptions(
            DataRoot: Absolute(parse.GetValue(dataRoot)!, "--data-root"),
            ExecRoot: exec,
            Host: DaemonHost.Parse(parse.GetValue(host)!),
            LogLevel: DaemonLog.ParseLevel(parse.GetValue(logLevel)!))
        {
            Drivers = new Berth.Daemon.Containers.ExecDriverTable(exec, parse.GetValue(addRuntime) ?? [], parse.GetValue(defaultRuntime)),
            AddressPools = parse.GetValue(addressPool) is { Length: > 0 } pools ? [.. pools.Select(Berth.Network.AddressPool.Parse)] : Berth.Network.AddressPool.Defaults,
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
