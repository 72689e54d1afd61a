using System.Globalization;

namespace Berth.Network;

/// <summary>A pool networks without a --subnet take theirs from: <see cref="Base"/> cut into subnets of prefix <see cref="Size"/>.</summary>
public sealed record AddressPool(IPv4Subnet Base, int Size)
{
    /// <summary>dockerd's default pools: 172.17.0.0/16 to 172.31.0.0/16 whole, then 192.168.0.0/16 in /20s.</summary>
    public static readonly IReadOnlyList<AddressPool> Defaults =
    [
        .. Enumerable.Range(17, 15).Select(b => new AddressPool(new IPv4Subnet(0xAC000000u | (uint)b << 16, 16), 16)),
        new AddressPool(new IPv4Subnet(0xC0A80000u, 16), 20),
    ];

    /// <summary>The first subnet of the pools that overlaps none of <paramref name="used"/>, or null when all do.</summary>
    public static IPv4Subnet? FirstFree(IReadOnlyList<AddressPool> pools, IReadOnlyCollection<IPv4Subnet> used)
    {
        foreach (var pool in pools)
        {
            ulong step = 1UL << (32 - pool.Size);
            for (ulong network = pool.Base.Network; network < pool.Base.Network + pool.Base.Size; network += step)
            {
                var candidate = new IPv4Subnet((uint)network, pool.Size);
                if (!used.Any(candidate.Overlaps)) return candidate;
            }
        }
        return null;
    }

    /// <summary>Parses dockerd's --default-address-pool value, <c>base=198.18.0.0/16,size=24</c>.</summary>
    public static AddressPool Parse(string text)
    {
        string? baseText = null, sizeText = null;
        foreach (var field in text.Split(','))
        {
            var (key, value) = field.IndexOf('=') is var eq and > 0 ? (field[..eq], field[(eq + 1)..]) : (field, "");
            switch (key)
            {
                case "base": baseText = value; break;
                case "size": sizeText = value; break;
                default: throw new FormatException($"invalid --default-address-pool \"{text}\": unknown field \"{key}\" (base=CIDR,size=PREFIX)");
            }
        }
        if (baseText is null || sizeText is null)
            throw new FormatException($"invalid --default-address-pool \"{text}\": it needs base=CIDR and size=PREFIX");
        if (!IPv4Subnet.TryParse(baseText, out var subnet, out var error, strict: true))
            throw new FormatException($"invalid --default-address-pool \"{text}\": {error}");
        if (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size < subnet.PrefixLength || size > 30)
            throw new FormatException($"invalid --default-address-pool \"{text}\": size {sizeText} must be a prefix length from the base's ({subnet.PrefixLength}) to 30");
        return new AddressPool(subnet, size);
    }
}
