using System.Net;
using System.Net.Sockets;

namespace Berth.Network;

/// <summary>An IPv4 subnet in CIDR form (198.18.1.0/24): its network address and prefix length.</summary>
public readonly record struct IPv4Subnet(uint Network, int PrefixLength)
{
    /// <summary>The subnet mask as a host-order number.</summary>
    public uint Mask => PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);

    /// <summary>The number of addresses in the subnet.</summary>
    public ulong Size => 1UL << (32 - PrefixLength);

    public bool Contains(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork && (ToUInt32(address) & Mask) == Network;

    public bool Overlaps(IPv4Subnet other)
    {
        var mask = PrefixLength < other.PrefixLength ? Mask : other.Mask;
        return (Network & mask) == (other.Network & mask);
    }

    /// <summary>The address <paramref name="offset"/> places after the network address.</summary>
    public IPAddress At(uint offset) => FromUInt32(Network + offset);

    public override string ToString() => $"{FromUInt32(Network)}/{PrefixLength}";

    /// <summary>The last address, the broadcast address of the subnet.</summary>
    public uint Broadcast => Network | ~Mask;

    /// <summary>
    /// Parses "a.b.c.d/n". Host bits set in the address are cleared (198.18.1.5/24 is 198.18.1.0/24), as dockerd reads
    /// a --subnet; <paramref name="strict"/> refuses them instead.
    /// </summary>
    public static bool TryParse(string text, out IPv4Subnet subnet, out string error, bool strict = false)
    {
        subnet = default;
        error = "";
        var slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var address) || address.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix)
            || prefix is < 0 or > 32)
        {
            error = $"invalid CIDR address: {text}";
            return false;
        }
        var candidate = new IPv4Subnet(0, prefix);
        var value = ToUInt32(address);
        if (strict && (value & candidate.Mask) != value)
        {
            error = $"invalid subnet {text}: it has host bits set (the network is {FromUInt32(value & candidate.Mask)}/{prefix})";
            return false;
        }
        subnet = candidate with { Network = value & candidate.Mask };
        return true;
    }

    public static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
    }

    public static IPAddress FromUInt32(uint value) => new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
}
