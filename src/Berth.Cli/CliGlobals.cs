using System.CommandLine;
using Berth.Api;

namespace Berth.Cli;

/// <summary>The options every verb has: <c>-H/--host</c>, else BERTH_HOST, else the default socket.</summary>
public sealed class CliGlobals
{
    public const string HostVariable = "BERTH_HOST";

    public Option<string?> Host { get; } = new("--host", "-H")
    {
        Description = $"daemon socket to connect to, unix://PATH (default ${HostVariable} or {DaemonHost.Default})",
        Recursive = true,
    };

    /// <exception cref="FormatException">The host is not unix://PATH; names the value.</exception>
    public DaemonHost ResolveHost(ParseResult parse)
    {
        string? value = parse.GetValue(Host);
        if (string.IsNullOrEmpty(value)) value = Environment.GetEnvironmentVariable(HostVariable);
        return string.IsNullOrEmpty(value) ? DaemonHost.Default : DaemonHost.Parse(value);
    }

    /// <summary>
    /// Runs a verb against the daemon and turns failures into docker's messages and exit codes:
    /// "Error response from daemon: ..." for an error answer, the connection hint for an absent socket, 1 for both.
    /// </summary>
    public async Task<int> RunAsync(ParseResult parse, Func<BerthClient, CancellationToken, Task<int>> verb, CancellationToken ct) =>
        await RunAsync(parse, verb, failureCode: 1, prefix: "", ct);

    /// <summary>As above, with the exit code and message prefix of a failure: <c>run</c> and <c>create</c> use docker's 125 and "docker: ".</summary>
    public async Task<int> RunAsync(ParseResult parse, Func<BerthClient, CancellationToken, Task<int>> verb, int failureCode, string prefix, CancellationToken ct)
    {
        DaemonHost host;
        try
        {
            host = ResolveHost(parse);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine(prefix + e.Message);
            return failureCode;
        }
        using var client = new BerthClient(host);
        try
        {
            return await verb(client, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(prefix + Describe(e));
            return failureCode;
        }
    }

    /// <summary>The line a docker user expects for each kind of failure.</summary>
    public static string Describe(Exception e) => e switch
    {
        DaemonErrorException d => $"Error response from daemon: {d.Message}",
        DaemonUnreachableException u => u.Message,
        StreamErrorException s => s.Message,
        _ => e.Message,
    };
}
