using System.Net;

namespace Berth.Engine;

/// <summary>
/// The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in its own directory and bound in (so the
/// image's files stay untouched): the contents dockerd writes for a container without a bridge network.
/// </summary>
public static class SandboxFiles
{
    /// <summary>libnetwork's default hosts file; a container on no network gets no line of its own.</summary>
    internal const string DefaultHosts =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

    /// <summary>Google's public resolvers: what dockerd falls back on when the host's only resolvers are local.</summary>
    internal const string FallbackNameservers = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";

    /// <summary>Where the daemon's DNS server answers in a container on a user-defined network, as dockerd's.</summary>
    public const string EmbeddedDnsAddress = "127.0.0.11";

    public static IReadOnlyList<ContainerFile> For(string containerDir, string hostname, string domainname, bool hostNetwork,
        NetworkAttachment? network, HostFacts host) =>
    [
        new(Path.Combine(containerDir, "hostname"), hostname + "\n"),
        new(Path.Combine(containerDir, "hosts"), hostNetwork ? host.Hosts : network is null ? DefaultHosts : DefaultHosts + HostLine(network.Address, hostname, domainname)),
        new(Path.Combine(containerDir, "resolv.conf"), hostNetwork ? host.ResolvConf : network is null ? ResolvConfFor(host.ResolvConf) : EmbeddedDnsResolvConf(host.ResolvConf)),
    ];

    /// <summary>The container's own line, as libnetwork writes it: "198.18.1.3\thh.dd.example hh" (the FQDN first when there is a domain).</summary>
    static string HostLine(IPAddress address, string hostname, string domainname) =>
        domainname.Length > 0 ? $"{address}\t{hostname}.{domainname} {hostname}\n" : $"{address}\t{hostname}\n";

    /// <summary>
    /// dockerd's resolv.conf for the embedded DNS server: the host's search and options lines, its nameservers replaced
    /// by 127.0.0.11 (the server forwards to them), and ndots:0 so that single names are asked as they are.
    /// </summary>
    internal static string EmbeddedDnsResolvConf(string hostResolvConf)
    {
        var kept = new List<string>();
        var options = new List<string>();
        foreach (var line in hostResolvConf.Split('\n'))
        {
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields is ["nameserver", ..]) continue;
            if (fields is ["options", .. var rest]) { options.AddRange(rest.Where(o => !o.StartsWith("ndots:", StringComparison.Ordinal))); continue; }
            if (fields.Length > 0 && !line.TrimStart().StartsWith('#')) kept.Add(line);
        }
        kept.Add("nameserver " + EmbeddedDnsAddress);
        kept.Add("options " + string.Join(' ', ["ndots:0", .. options]));
        return string.Join('\n', kept) + "\n";
    }

    /// <summary>The host's nameservers, where the embedded DNS server forwards what it does not know (none on its loopback).</summary>
    public static IReadOnlyList<IPAddress> Nameservers(string hostResolvConf)
    {
        var servers = new List<IPAddress>();
        foreach (var line in hostResolvConf.Split('\n'))
            if (line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is ["nameserver", var address, ..]
                && IPAddress.TryParse(address.Split('%')[0], out var ip) && !IPAddress.IsLoopback(ip))
                servers.Add(ip);
        return servers;
    }

    /// <summary>The host's resolv.conf without the resolvers on its loopback, which the container's own network cannot reach.</summary>
    internal static string ResolvConfFor(string hostResolvConf)
    {
        var kept = new List<string>();
        var nameservers = 0;
        foreach (var line in hostResolvConf.Split('\n'))
        {
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields is ["nameserver", var address, ..])
            {
                if (IPAddress.TryParse(address.Split('%')[0], out var ip) && IPAddress.IsLoopback(ip)) continue;
                nameservers++;
            }
            kept.Add(line);
        }
        var text = string.Join('\n', kept).TrimEnd('\n');
        text = text.Length > 0 ? text + "\n" : "";
        return nameservers > 0 ? text : text + FallbackNameservers;
    }
}
