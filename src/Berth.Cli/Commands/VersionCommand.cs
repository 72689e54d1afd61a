using System.CommandLine;
using System.Reflection;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth version</c>: the client's facts, then the daemon's components, as docker prints them.</summary>
public static class VersionCommand
{
    public static Command Build(CliGlobals globals)
    {
        var command = new Command("version", "Show the Berth version information");
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var output = Console.Out;
            ApiVersion negotiated;
            SystemVersion? server = null;
            Exception? failure = null;
            try
            {
                negotiated = await client.NegotiateAsync(token);
                server = await client.VersionAsync(token);
            }
            catch (Exception e) when (e is DaemonUnreachableException or DaemonErrorException)
            {
                negotiated = ApiVersion.Current;
                failure = e;
            }
            WriteClient(output, negotiated, client.Host);
            if (failure is not null) throw failure;
            output.WriteLine();
            WriteServer(output, server!);
            return 0;
        }, ct));
        return command;
    }

    static void WriteClient(TextWriter output, ApiVersion negotiated, DaemonHost host)
    {
        string full = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";
        int plus = full.IndexOf('+');
        output.WriteLine("Client:");
        Row(output, 1, "Version", plus < 0 ? full : full[..plus]);
        Row(output, 1, "API version", negotiated < ApiVersion.Current ? $"{negotiated} (downgraded from {ApiVersion.Current})" : negotiated.ToString());
        Row(output, 1, ".NET version", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
        Row(output, 1, "Git commit", plus < 0 ? "" : full[(plus + 1)..]);
        Row(output, 1, "OS/Arch", $"linux/{GoArch()}");
        Row(output, 1, "Host", host.ToString());
    }

    static void WriteServer(TextWriter output, SystemVersion server)
    {
        output.WriteLine("Server:");
        foreach (var component in server.Components)
        {
            output.WriteLine($" {component.Name}:");
            var details = component.Details ?? [];
            if (component.Name == "Engine")
            {
                Row(output, 2, "Version", component.Version);
                Row(output, 2, "API version", $"{details.GetValueOrDefault("ApiVersion")} (minimum version {details.GetValueOrDefault("MinAPIVersion")})");
                Row(output, 2, ".NET version", details.GetValueOrDefault("GoVersion") ?? "");
                Row(output, 2, "Git commit", details.GetValueOrDefault("GitCommit") ?? "");
                Row(output, 2, "Built", details.GetValueOrDefault("BuildTime") ?? "");
                Row(output, 2, "OS/Arch", $"{details.GetValueOrDefault("Os")}/{details.GetValueOrDefault("Arch")}");
                Row(output, 2, "Experimental", details.GetValueOrDefault("Experimental") ?? "false");
                continue;
            }
            Row(output, 2, "Version", component.Version);
            foreach (var (key, value) in details) Row(output, 2, key, value);
        }
    }

    static void Row(TextWriter output, int indent, string label, string value)
    {
        string head = new string(' ', indent) + label + ":";
        output.WriteLine(head.PadRight(20) + value);
    }

    internal static string GoArch() => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        var a => a.ToString().ToLowerInvariant(),
    };
}
