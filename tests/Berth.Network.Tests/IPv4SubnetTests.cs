using System.Net;

namespace Berth.Network.Tests;

public class IPv4SubnetTests
{
    [Theory]
    [InlineData("198.18.1.0/24", "198.18.1.0/24", 256UL)]
    [InlineData("198.18.0.0/15", "198.18.0.0/15", 131072UL)]
    [InlineData("10.0.0.4/30", "10.0.0.4/30", 4UL)]
    public void ParsesCidr(string text, string shown, ulong size)
    {
        Assert.True(IPv4Subnet.TryParse(text, out var subnet, out var error), error);
        Assert.Equal(shown, subnet.ToString());
        Assert.Equal(size, subnet.Size);
    }

    [Theory]
    [InlineData("198.18.1.1/24", "invalid subnet 198.18.1.1/24: it has host bits set (the network is 198.18.1.0/24)")]
    [InlineData("198.18.1.0", "invalid CIDR address: 198.18.1.0")]
    [InlineData("198.18.1.0/33", "invalid CIDR address: 198.18.1.0/33")]
    [InlineData("fd00::/64", "invalid CIDR address: fd00::/64")]
    [InlineData("nonsense/8", "invalid CIDR address: nonsense/8")]
    public void RefusesBadCidr(string text, string message)
    {
        Assert.False(IPv4Subnet.TryParse(text, out _, out var error, strict: true));
        Assert.Equal(message, error);
    }

    [Fact]
    public void ClearsHostBitsUnlessStrict()
    {
        Assert.True(IPv4Subnet.TryParse("198.18.77.5/24", out var subnet, out _));
        Assert.Equal("198.18.77.0/24", subnet.ToString());
        Assert.Equal(IPAddress.Parse("198.18.77.255"), IPv4Subnet.FromUInt32(subnet.Broadcast));
    }

    [Fact]
    public void ContainsAndOverlaps()
    {
        IPv4Subnet.TryParse("198.18.0.0/15", out var pool, out _);
        IPv4Subnet.TryParse("198.19.4.0/24", out var inside, out _);
        IPv4Subnet.TryParse("198.20.0.0/24", out var outside, out _);
        Assert.True(pool.Overlaps(inside));
        Assert.True(inside.Overlaps(pool));
        Assert.False(pool.Overlaps(outside));
        Assert.True(inside.Contains(IPAddress.Parse("198.19.4.200")));
        Assert.False(inside.Contains(IPAddress.Parse("198.19.5.1")));
        Assert.Equal(IPAddress.Parse("198.19.4.1"), inside.At(1));
    }
}
