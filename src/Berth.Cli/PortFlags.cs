using System.Globalization;
using Berth.Api;
using Berth.Network.Ports;

namespace Berth.Cli;

/// <summary>
/// The network flags of <c>run</c> and <c>create</c> as the docker 28 CLI turns them into the create body: -p into
/// HostConfig.PortBindings (each port also exposed), --expose into Config.ExposedPorts, --ip and --network-alias into the
/// endpoint of the container's network. Maps are filled in key order, as Go writes them.
/// </summary>
public static class PortFlags
{
    /// <exception cref="FormatException">A -p or --expose value docker's CLI refuses, with its sentence.</exception>
    public static (Dictionary<string, List<PortBinding>?> Bindings, Dictionary<string, EmptyObject> Exposed) Parse(string[] publish, string[] expose)
    {
        var bindings = new SortedDictionary<string, List<PortBinding>?>(StringComparer.Ordinal);
        var exposed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string spec in publish)
        {
            IReadOnlyList<(string Key, string HostIp, string HostPort)> entries;
            try
            {
                entries = PublishedPorts.ParseSpec(spec);
            }
            catch (PublishedPortException e)
            {
                throw new FormatException(e.Message);
            }
            foreach (var (key, hostIp, hostPort) in entries)
            {
                if (!bindings.TryGetValue(key, out var list) || list is null) bindings[key] = list = [];
                list.Add(new PortBinding { HostIp = hostIp, HostPort = hostPort });
                exposed.Add(key);
            }
        }
        foreach (string item in expose) exposed.UnionWith(ExposedKeys(item));
        return (new Dictionary<string, List<PortBinding>?>(bindings), exposed.ToDictionary(k => k, _ => new EmptyObject()));
    }

    /// <summary>--expose PORT[-END][/PROTO]: one key per port; the protocol is taken as written, as the CLI does.</summary>
    static IEnumerable<string> ExposedKeys(string item)
    {
        string[] parts = item.Split('/');
        string protocol = parts.Length > 1 && parts[1].Length > 0 ? parts[1] : "tcp";
        string ports = parts[0];
        if (ports.Length == 0) throw new FormatException($"invalid range format for --expose: {item}, error: empty string specified for ports");
        string[] bounds = ports.Split('-');
        if (!TryPort(bounds[0], out int start, out string? error) || !TryPort(bounds.Length > 1 ? bounds[1] : bounds[0], out int end, out error))
            throw new FormatException($"invalid range format for --expose: {item}, error: {error}");
        if (end < start) throw new FormatException($"invalid range format for --expose: {item}, error: invalid range specified for port: {ports}");
        for (int port = start; port <= end; port++) yield return $"{port}/{protocol}";
    }

    /// <summary>Go's strconv.ParseUint(text, 10, 16), with its error text.</summary>
    static bool TryPort(string text, out int port, out string? error)
    {
        error = null;
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
        {
            port = 0;
            error = $"strconv.ParseUint: parsing \"{text}\": invalid syntax";
            return false;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        {
            error = $"strconv.ParseUint: parsing \"{text}\": value out of range";
            return false;
        }
        return true;
    }

    /// <summary>
    /// NetworkingConfig.EndpointsConfig: without --network, an endpoint for "default" (empty unless --ip is given); with
    /// one, an endpoint only when --ip or --network-alias asks for something. Aliases need a user-defined network.
    /// </summary>
    public static Dictionary<string, EndpointSettings?> Endpoints(string? network, string? ip, string[] aliases)
    {
        string target = network ?? "default";
        if (aliases.Length > 0 && !IsUserDefined(target))
            throw new FormatException("network-scoped aliases are only supported for user-defined networks");
        var endpoint = new EndpointSettings { GwPriority = 0 };
        if (!string.IsNullOrEmpty(ip)) endpoint.IPAMConfig = new EndpointIpamConfig { IPv4Address = ip };
        if (aliases.Length > 0) endpoint.Aliases = [.. aliases];
        bool empty = endpoint.IPAMConfig is null && endpoint.Aliases is null;
        return network is null || !empty ? new() { [target] = endpoint } : [];
    }

    /// <summary>Not one of the network modes docker names itself (moby's NetworkMode.IsUserDefined).</summary>
    static bool IsUserDefined(string mode) =>
        mode is not ("default" or "bridge" or "host" or "none") && !mode.StartsWith("container:", StringComparison.Ordinal);
}
