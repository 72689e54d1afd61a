using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth network create|ls|inspect|rm|prune</c>: docker's verbs and flags, the create body the docker 28 CLI sends,
/// its table and template formats, and its outputs and exit codes for names that are not there.
/// </summary>
public static class NetworkCommands
{
    const string DefaultTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

    static readonly Dictionary<string, string> Headers = new()
    {
        ["ID"] = "NETWORK ID", ["Name"] = "NAME", ["Driver"] = "DRIVER", ["Scope"] = "SCOPE", ["IPv4"] = "IPV4", ["IPv6"] = "IPV6",
        ["Internal"] = "INTERNAL", ["Labels"] = "LABELS", ["CreatedAt"] = "CREATED AT",
    };

    public static Command Build(CliGlobals globals) => new("network", "Manage networks")
    {
        Create(globals), List(globals), Inspect(globals), Remove(globals), Prune(globals),
    };

    static Command Create(CliGlobals globals)
    {
        var name = new Argument<string>("NETWORK");
        var driver = new Option<string>("--driver", "-d") { Description = "Driver to manage the Network", DefaultValueFactory = _ => "bridge" };
        var subnet = new Option<string[]>("--subnet") { Description = "Subnet in CIDR format that represents a network segment" };
        var gateway = new Option<string[]>("--gateway") { Description = "IPv4 or IPv6 Gateway for the master subnet" };
        var ipRange = new Option<string[]>("--ip-range") { Description = "Allocate container ip from a sub-range" };
        var opt = new Option<string[]>("--opt", "-o") { Description = "Set driver specific options" };
        var label = new Option<string[]>("--label") { Description = "Set metadata on a network" };
        var attachable = new Option<bool>("--attachable") { Description = "Enable manual container attachment" };
        var @internal = new Option<bool>("--internal") { Description = "Restrict external access to the network" };
        var ipv6 = new Option<bool>("--ipv6") { Description = "Enable or disable IPv6 networking" };
        var ipamDriver = new Option<string>("--ipam-driver") { Description = "IP Address Management Driver", DefaultValueFactory = _ => "default" };
        var command = new Command("create", "Create a network") { name, driver, subnet, gateway, ipRange, opt, label, attachable, @internal, ipv6, ipamDriver };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var ipam = new NetworkIpam
            {
                Driver = parse.GetValue(ipamDriver)!,
                Options = [],
                Config = IpamConfig(parse.GetValue(subnet) ?? [], parse.GetValue(ipRange) ?? [], parse.GetValue(gateway) ?? []),
            };
            var request = new NetworkCreateRequest
            {
                Driver = parse.GetValue(driver),
                Scope = "",
                // Sent only when the flag is given, true or false, as the docker 28 CLI does.
                EnableIPv6 = parse.GetResult(ipv6) is { Implicit: false } ? parse.GetValue(ipv6) : null,
                IPAM = ipam,
                Internal = parse.GetValue(@internal),
                Attachable = parse.GetValue(attachable),
                Options = Pairs("--opt", parse.GetValue(opt)),
                Labels = Pairs("--label", parse.GetValue(label)),
                Name = parse.GetValue(name),
                CheckDuplicate = true,
            };
            var created = await client.CreateNetworkAsync(request, token);
            if (created.Warning is { Length: > 0 } warning) Console.Error.WriteLine("WARNING: " + warning);
            Console.Out.WriteLine(created.Id);
            return 0;
        }, ct));
        return command;
    }

    /// <summary>KEY=VALUE items as a map in key order; KEY alone has the value "" (docker's -o and --label).</summary>
    static Dictionary<string, string> Pairs(string flag, string[]? items) =>
        new(new SortedDictionary<string, string>((items ?? []).Select(i => FlagValues.Pair(flag, i, valueOptional: true))
            .GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value), StringComparer.Ordinal));

    /// <summary>
    /// The docker CLI's IPAM config: one entry per subnet (in the order given), each range and gateway put into the
    /// subnet holding it, with its sentences for what does not fit. Subnets themselves are left for the daemon to check.
    /// </summary>
    internal static List<NetworkIpamConfig> IpamConfig(string[] subnets, string[] ranges, string[] gateways)
    {
        if (subnets.Length < ranges.Length || subnets.Length < gateways.Length)
            throw new FormatException("every ip-range or gateway must have a corresponding subnet");
        List<NetworkIpamConfig> configs = [];
        foreach (string s in subnets)
        {
            if (configs.Any(c => SubnetHolds(s, c.Subnet!) || SubnetHolds(c.Subnet!, s)))
                throw new FormatException("multiple overlapping subnet configuration is not supported");
            configs.Add(new NetworkIpamConfig { Subnet = s });
        }
        foreach (string r in ranges)
        {
            if (!TryCidr(r, out _, out _)) throw new FormatException($"invalid CIDR address: {r}");
            var holders = configs.Where(c => SubnetHolds(c.Subnet!, r)).ToList();
            if (holders.Count == 0) throw new FormatException($"no matching subnet for range {r}");
            foreach (var c in holders)
            {
                if (c.IPRange is { } taken) throw new FormatException($"cannot configure multiple ranges ({r}, {taken}) on the same subnet ({c.Subnet})");
                c.IPRange = r;
            }
        }
        foreach (string g in gateways)
        {
            var holders = configs.Where(c => SubnetHolds(c.Subnet!, g)).ToList();
            if (holders.Count == 0) throw new FormatException($"no matching subnet for gateway {g}");
            foreach (var c in holders)
            {
                if (c.Gateway is { } taken) throw new FormatException($"cannot configure multiple gateways ({g}, {taken}) for the same subnet ({c.Subnet})");
                c.Gateway = g;
            }
        }
        return configs;
    }

    /// <summary>Whether <paramref name="subnet"/> holds <paramref name="data"/>'s address (an address, or a CIDR's address part).</summary>
    static bool SubnetHolds(string subnet, string data)
    {
        if (!TryCidr(subnet, out var network, out int prefix)) throw new FormatException($"invalid subnet: invalid CIDR address: {subnet}");
        IPAddress? address;
        if (data.Contains('/'))
        {
            if (!TryCidr(data, out address, out _)) throw new FormatException($"invalid CIDR address: {data}");
        }
        else if (!TryIp(data, out address)) return false;
        byte[] a = network.GetAddressBytes(), b = address!.GetAddressBytes();
        if (a.Length != b.Length) return false;
        for (int bit = 0; bit < prefix; bit++)
            if (((a[bit / 8] ^ b[bit / 8]) & (0x80 >> (bit % 8))) != 0) return false;
        return true;
    }

    /// <summary>Go's net.ParseCIDR: ADDRESS/PREFIX with the host bits allowed; the address as written.</summary>
    static bool TryCidr(string text, out IPAddress address, out int prefix)
    {
        address = IPAddress.None;
        prefix = 0;
        int slash = text.IndexOf('/');
        if (slash < 0 || !TryIp(text[..slash], out var parsed)) return false;
        string bits = text[(slash + 1)..];
        int max = parsed!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (bits.Length == 0 || !bits.All(char.IsAsciiDigit) || !int.TryParse(bits, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max)
            return false;
        address = parsed;
        return true;
    }

    /// <summary>As Go's net.ParseIP: IPv4 only as four decimal parts, no zone.</summary>
    static bool TryIp(string text, out IPAddress? address)
    {
        address = null;
        if (text.Contains('%') || !IPAddress.TryParse(text, out var parsed)) return false;
        if (!text.Contains(':') && text.Split('.') is var parts && (parts.Length != 4 || !parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))))
            return false;
        address = parsed;
        return true;
    }

    static Command List(CliGlobals globals)
    {
        var filter = new Option<string[]>("--filter", "-f") { Description = "Provide filter values (e.g. \"driver=bridge\")" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display network IDs" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate the output" };
        var format = new Option<string?>("--format") { Description = "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" };
        var command = new Command("ls", "List networks") { filter, quiet, noTrunc, format };
        command.Aliases.Add("list");
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            bool trunc = !parse.GetValue(noTrunc);
            var output = new FormattedOutput(parse.GetValue(format), DefaultTable, HeaderOf);
            var networks = await client.ListNetworksAsync(ApiFilters.FromPairs(parse.GetValue(filter) ?? []), token);
            networks.Sort((a, b) => NaturalOrder.Instance.Compare(Text(a, "Name"), Text(b, "Name")));
            if (parse.GetValue(quiet))
            {
                foreach (var n in networks) Console.Out.WriteLine(trunc ? PsCommand.ShortId(Text(n, "Id")) : Text(n, "Id"));
                return 0;
            }
            output.Write(Console.Out, networks.Select(n => Fields(n, trunc)));
            return 0;
        }, ct));
        return command;
    }

    static string HeaderOf(string field) => Headers.TryGetValue(field.Split('.')[0], out var h) ? h : field.Split('.')[0].ToUpperInvariant();

    static string Text(JsonElement network, string field) =>
        network.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    static string Flag(JsonElement network, string field) =>
        network.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.True ? "true" : "false";

    /// <summary>The fields docker's network formatter offers, as rendered strings (its <c>{{json .}}</c> object).</summary>
    static JsonElement Fields(JsonElement n, bool trunc)
    {
        var labels = n.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object
            ? l.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}={p.Value.GetString()}") : [];
        return FormattedOutput.Object(new Dictionary<string, object?>
        {
            ["CreatedAt"] = GoTime(Text(n, "Created")),
            ["Driver"] = Text(n, "Driver"),
            ["ID"] = trunc ? PsCommand.ShortId(Text(n, "Id")) : Text(n, "Id"),
            ["IPv4"] = Flag(n, "EnableIPv4"),
            ["IPv6"] = Flag(n, "EnableIPv6"),
            ["Internal"] = Flag(n, "Internal"),
            ["Labels"] = string.Join(",", labels),
            ["Name"] = Text(n, "Name"),
            ["Scope"] = Text(n, "Scope"),
        });
    }

    /// <summary>An RFC 3339 time with nanoseconds as Go's time.String() prints it in the local zone, the fraction's zeros dropped.</summary>
    internal static string GoTime(string rfc3339)
    {
        if (!DateTimeOffset.TryParse(rfc3339, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)) return rfc3339;
        int dot = rfc3339.IndexOf('.');
        string fraction = "";
        if (dot > 0)
        {
            int end = dot + 1;
            while (end < rfc3339.Length && char.IsAsciiDigit(rfc3339[end])) end++;
            fraction = rfc3339[(dot + 1)..end].TrimEnd('0');
        }
        string text = PsCommand.GoTime(time);
        // "2026-12-06 17:02:47 +0000 UTC": the fraction goes after the seconds.
        return fraction.Length == 0 ? text : text.Insert("yyyy-MM-dd HH:mm:ss".Length, "." + fraction);
    }

    static Command Inspect(CliGlobals globals)
    {
        var names = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var format = new Option<string?>("--format", "-f") { Description = "Format output using a custom template ('json' for the JSON)" };
        var command = new Command("inspect", "Display detailed information on one or more networks") { names, format };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string? fmt = parse.GetValue(format);
            var template = fmt is null or "json" ? null : GoTemplate.Parse(fmt.Replace("\\t", "\t").Replace("\\n", "\n"));
            List<JsonElement> found = [];
            List<string> errors = [];
            foreach (string name in parse.GetValue(names)!)
            {
                try
                {
                    found.Add(await client.InspectNetworkAsync(name, token));
                }
                catch (DaemonErrorException e)
                {
                    errors.Add(CliGlobals.Describe(e));
                }
            }
            if (template is null) Console.Out.WriteLine(InspectCommand.IndentedArray(found));
            else foreach (var json in found) Console.Out.WriteLine(template.Execute(json));
            foreach (string error in errors) Console.Error.WriteLine(error);
            return errors.Count == 0 ? 0 : 1;
        }, ct));
        return command;
    }

    static Command Remove(CliGlobals globals)
    {
        var names = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "Do not error if the network does not exist" };
        var command = new Command("rm", "Remove one or more networks") { names, force };
        command.Aliases.Add("remove");
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            int status = 0;
            foreach (string name in parse.GetValue(names)!)
            {
                try
                {
                    await client.RemoveNetworkAsync(name, token);
                    Console.Out.WriteLine(name);
                }
                catch (DaemonErrorException e)
                {
                    if (parse.GetValue(force) && e.IsNotFound) continue;
                    Console.Error.WriteLine(CliGlobals.Describe(e));
                    status = 1;
                }
            }
            return status;
        }, ct));
        return command;
    }

    static Command Prune(CliGlobals globals)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var filter = new Option<string[]>("--filter") { Description = "Provide filter values (e.g. \"until=<timestamp>\")" };
        var command = new Command("prune", "Remove all unused networks") { force, filter };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            if (!parse.GetValue(force) && !PruneOutput.Confirmed("This will remove all custom networks not used by at least one container.")) return 0;
            var report = await client.PruneNetworksAsync(ApiFilters.FromPairs(parse.GetValue(filter) ?? []), token);
            PruneOutput.Deleted("Networks", report.NetworksDeleted);
            return 0;
        }, ct));
        return command;
    }
}
