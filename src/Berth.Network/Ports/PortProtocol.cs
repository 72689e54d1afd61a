namespace Berth.Network.Ports;

/// <summary>The transport of a published port. dockerd also knows sctp; berthd refuses it when parsing.</summary>
public enum PortProtocol { Tcp, Udp }

public static class PortProtocols
{
    /// <summary>The name in dockerd's port keys ("80/tcp") and in docker-proxy's messages.</summary>
    public static string Name(this PortProtocol protocol) => protocol == PortProtocol.Tcp ? "tcp" : "udp";
}

/// <summary>The host side of a binding: one port (Start == End), a range to allocate in, or 0-0 for the ephemeral range.</summary>
public readonly record struct HostPortRange(int Start, int End)
{
    public static readonly HostPortRange Ephemeral = new(0, 0);

    public static HostPortRange Single(int port) => new(port, port);

    public bool IsEphemeral => Start == 0;

    public bool IsSingle => Start != 0 && Start == End;

    /// <summary>As docker writes it in HostConfig.PortBindings: "", "8080" or "8000-8010".</summary>
    public override string ToString() => IsEphemeral ? "" : IsSingle ? $"{Start}" : $"{Start}-{End}";
}
