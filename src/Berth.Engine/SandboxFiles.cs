using System.Net;

namespace Berth.Engine;

/// <summary>
/// The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in its own directory and bound in (so the
/// image's files stay untouched): the contents dockerd writes for a container without a bridge network.
/// </summary>
internal static class SandboxFiles
{
    /// <summary>libnetwork's default hosts file; a container on no network gets no line of its own.</summary>
    internal const string DefaultHosts =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

    /// <summary>Google's public resolvers: what dockerd falls back on when the host's only resolvers are local.</summary>
    internal const string FallbackNameservers = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";

    public static IReadOnlyList<ContainerFile> For(string containerDir, string hostname, bool hostNetwork, HostFacts host) =>
    [
        new(Path.Combine(containerDir, "hostname"), hostname + "\n"),
        new(Path.Combine(containerDir, "hosts"), hostNetwork ? host.Hosts : DefaultHosts),
        new(Path.Combine(containerDir, "resolv.conf"), hostNetwork ? host.ResolvConf : ResolvConfFor(host.ResolvConf)),
    ];

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
