using System.Globalization;
using System.Net;

namespace Berth.Network.Ports;

/// <summary>One published port: the container's port and protocol, the host address (null: every address, "0.0.0.0")
/// and the host port, a range to allocate in, or <see cref="HostPortRange.Ephemeral"/>.</summary>
public sealed record PublishedPort(PortProtocol Protocol, int ContainerPort, IPAddress? HostIp, HostPortRange HostPorts)
{
    /// <summary>The key of HostConfig.PortBindings and NetworkSettings.Ports: "80/tcp".</summary>
    public string Key => $"{ContainerPort}/{Protocol.Name()}";
}

/// <summary>Bad -p input; the message is the sentence dockerd 20.10 (or the docker CLI, for <see cref="PublishedPorts.ParseSpec"/>) gives.</summary>
public sealed class PublishedPortException(string message) : Exception(message);

/// <summary>What the docker CLI sends for -p/-P (HostConfig.PortBindings, Config.ExposedPorts, HostConfig.PublishAllPorts),
/// validated as dockerd 20.10's validateHostConfig does, and the CLI's own -p syntax for berth's client.</summary>
public static class PublishedPorts
{
    /// <summary>Reads HostConfig.PortBindings ({"80/tcp":[{"HostIp":"","HostPort":"8080"}]}); with
    /// <paramref name="publishAll"/> (-P), each of <paramref name="exposedPorts"/> (Config.ExposedPorts' keys) that has no
    /// binding gets an ephemeral host port. Explicit host ports come first, so ephemeral allocations never take them.</summary>
    public static IReadOnlyList<PublishedPort> Parse(
        IReadOnlyDictionary<string, IReadOnlyList<(string HostIp, string HostPort)>>? portBindings,
        IEnumerable<string>? exposedPorts = null, bool publishAll = false)
    {
        var result = new List<PublishedPort>();
        var bound = new HashSet<(PortProtocol, int)>();
        foreach (var (key, bindings) in portBindings ?? new Dictionary<string, IReadOnlyList<(string, string)>>())
        {
            var (protocol, containerPort) = ParseKey(key);
            bound.Add((protocol, containerPort));
            foreach (var (hostIp, hostPort) in bindings)
                result.Add(new PublishedPort(protocol, containerPort, ParseHostIp(hostIp), ParseHostPort(hostPort)));
        }
        if (publishAll)
            foreach (var key in exposedPorts ?? [])
            {
                var (protocol, containerPort) = ParseKey(key);
                if (bound.Add((protocol, containerPort)))
                    result.Add(new PublishedPort(protocol, containerPort, null, HostPortRange.Ephemeral));
            }
        // Stable: the bindings of one key keep the client's order.
        return [.. result.OrderBy(p => p.HostPorts.IsEphemeral).ThenBy(p => p.ContainerPort).ThenBy(p => p.Protocol)];
    }

    /// <summary>"80/tcp", "53/udp", "80" (tcp). dockerd 20.10 checks the port with "invalid port specification"; a
    /// container port range is not a key the API takes (the CLI sends one key per port).</summary>
    static (PortProtocol, int) ParseKey(string key)
    {
        var slash = key.IndexOf('/');
        var portText = slash < 0 ? key : key[..slash];
        var protocolText = slash < 0 || slash == key.Length - 1 ? "tcp" : key[(slash + 1)..];
        if (!TryParsePort(portText, out var port) || port == 0)
            throw new PublishedPortException($"invalid port specification: \"{portText}\"");
        return (ParseProtocol(protocolText), port);
    }

    static PortProtocol ParseProtocol(string text) => text.ToLowerInvariant() switch
    {
        "tcp" => PortProtocol.Tcp,
        "udp" => PortProtocol.Udp,
        "sctp" => throw new PublishedPortException("invalid proto: sctp (berthd publishes tcp and udp ports only)"),
        _ => throw new PublishedPortException($"invalid proto: {text}"),
    };

    static IPAddress? ParseHostIp(string text)
    {
        if (text.Length == 0)
            return null;
        // dockerd 20.10 reads a HostIp it cannot parse as 0.0.0.0 and publishes on every address; refuse it instead.
        var bare = text.StartsWith('[') && text.EndsWith(']') ? text[1..^1] : text;
        if (!TryParseIp(bare, out var address))
            throw new PublishedPortException($"invalid IP address: {text}");
        return address;
    }

    /// <summary>"" or "0": ephemeral; "8080"; "8000-8010": the first free in that range. dockerd ignores a "/proto" suffix
    /// here (its check splits it off), and so does berthd.</summary>
    static HostPortRange ParseHostPort(string text)
    {
        var bare = text.IndexOf('/') is var slash and >= 0 ? text[..slash] : text;
        if (bare.Length == 0)
            return HostPortRange.Ephemeral;
        if (!TryParseRange(bare, out var range) || (range.Start == 0 && range.End != 0))
            throw new PublishedPortException($"invalid port specification: \"{text}\"");
        return range;
    }

    /// <summary>The docker CLI's -p syntax, [ip:][hostPort:]containerPort[/proto] with ranges (8000-8001:80-81), as
    /// HostConfig.PortBindings entries, with the 20.10 CLI's sentences for bad input.</summary>
    public static IReadOnlyList<(string Key, string HostIp, string HostPort)> ParseSpec(string spec)
    {
        var parts = spec.Split(':');
        var (ip, hostPort, container) = parts.Length switch
        {
            1 => ("", "", parts[0]),
            2 => ("", parts[0], parts[1]),
            _ => (string.Join(':', parts[..^2]), parts[^2], parts[^1]),
        };
        var slash = container.IndexOf('/');
        var protocolText = slash < 0 || slash == container.Length - 1 ? "tcp" : container[(slash + 1)..].ToLowerInvariant();
        var containerPort = slash < 0 ? container : container[..slash];
        if (containerPort.Length == 0)
            throw new PublishedPortException($"no port specified: {spec}<empty>");
        if (protocolText is not ("tcp" or "udp" or "sctp"))
            throw new PublishedPortException($"invalid proto: {protocolText}");
        if (ip.StartsWith('[') && ip.EndsWith(']'))
            ip = ip[1..^1];
        if (ip.Length != 0 && !TryParseIp(ip, out _))
            throw new PublishedPortException($"invalid IP address: {ip}");
        if (!TryParseRange(containerPort, out var containerRange))
            throw new PublishedPortException($"invalid containerPort: {containerPort}");
        var hostRange = HostPortRange.Ephemeral;
        if (hostPort.Length != 0 && !TryParseRange(hostPort, out hostRange))
            throw new PublishedPortException($"invalid hostPort: {hostPort}");
        var count = containerRange.End - containerRange.Start + 1;
        // A host range with one container port is a range to allocate in; with a container range, the sizes must agree.
        if (hostPort.Length != 0 && hostRange.End - hostRange.Start + 1 != count && count != 1)
            throw new PublishedPortException($"invalid ranges specified for container and host Ports: {containerPort} and {hostPort}");
        var result = new List<(string, string, string)>(count);
        for (var i = 0; i < count; i++)
        {
            var host = hostPort.Length == 0 ? ""
                : count == 1 && !hostRange.IsSingle ? hostRange.ToString()
                : $"{hostRange.Start + i}";
            result.Add(($"{containerRange.Start + i}/{protocolText}", ip, host));
        }
        return result;
    }

    /// <summary>As Go's net.ParseIP: IPv4 only as four decimal parts (.NET also takes "1.2.3" and "0x7f.1"), no zone.</summary>
    static bool TryParseIp(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Contains('%') || !IPAddress.TryParse(text, out var parsed))
            return false;
        if (!text.Contains(':') && text.Split('.') is var parts && (parts.Length != 4 || !parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))))
            return false;
        address = parsed;
        return true;
    }

    /// <summary>"N" or "N-M" with M ≥ N, each 0-65535 (go-connections' ParsePortRange).</summary>
    static bool TryParseRange(string text, out HostPortRange range)
    {
        range = default;
        var dash = text.IndexOf('-');
        if (dash < 0)
        {
            if (!TryParsePort(text, out var port))
                return false;
            range = new HostPortRange(port, port);
            return true;
        }
        if (!TryParsePort(text[..dash], out var start) || !TryParsePort(text[(dash + 1)..], out var end) || end < start)
            return false;
        range = new HostPortRange(start, end);
        return true;
    }

    static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
}
