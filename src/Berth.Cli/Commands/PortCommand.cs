using System.CommandLine;
using System.Globalization;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth port CONTAINER [PRIVATE_PORT[/PROTO]]</c> (also <c>container port</c>): the container's published ports as
/// docker prints them, "80/tcp -&gt; 0.0.0.0:8080" for all, "0.0.0.0:8080" for one, in natural order.
/// </summary>
public static class PortCommand
{
    public static Command Build(CliGlobals globals)
    {
        var container = new Argument<string>("CONTAINER");
        var privatePort = new Argument<string?>("PRIVATE_PORT[/PROTO]") { Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("port", "List port mappings or a specific mapping for the container") { container, privatePort };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string name = parse.GetValue(container)!;
            string? wanted = parse.GetValue(privatePort);
            var inspect = await client.InspectContainerAsync(name, token);
            var ports = inspect.NetworkSettings.Ports;
            List<string> lines = [];
            if (wanted is not null)
            {
                int slash = wanted.IndexOf('/');
                string port = slash < 0 ? wanted : wanted[..slash], protocol = slash < 0 || slash == wanted.Length - 1 ? "tcp" : wanted[(slash + 1)..];
                if (port.Length == 0 || !port.All(char.IsAsciiDigit) || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 65535)
                    throw new FormatException($"Error: invalid port ({port}): strconv.ParseUint: parsing \"{port}\": " +
                        (port.Length > 0 && port.All(char.IsAsciiDigit) ? "value out of range" : "invalid syntax"));
                if (!ports.TryGetValue($"{port}/{protocol}", out var frontends) || frontends is not { Count: > 0 })
                    throw new FormatException($"Error: No public port '{wanted}' published for {name}");
                lines.AddRange(frontends.Select(HostAddress));
            }
            else
            {
                foreach (var (key, frontends) in ports)
                    lines.AddRange((frontends ?? []).Select(f => $"{key} -> {HostAddress(f)}"));
            }
            lines.Sort(NaturalOrder.Instance);
            foreach (string line in lines) Console.Out.WriteLine(line);
            return 0;
        }, ct));
        return command;
    }

    /// <summary>Go's net.JoinHostPort: an IPv6 address in brackets.</summary>
    static string HostAddress(PortBinding binding) =>
        (binding.HostIp.Contains(':') ? $"[{binding.HostIp}]" : binding.HostIp) + ":" + binding.HostPort;
}
