using System.Net;

namespace Berth.Network.Tests;

public class AddressAllocationTests
{
    static IPv4Subnet Subnet(string text)
    {
        Assert.True(IPv4Subnet.TryParse(text, out var subnet, out var error), error);
        return subnet;
    }

    [Fact]
    public void GivesTheLowestFreeAddressAndSkipsTheGateway()
    {
        var allocator = new AddressAllocator(Subnet("198.18.3.0/29"), null, IPAddress.Parse("198.18.3.1"), "tiny (abc)");
        Assert.Equal(IPAddress.Parse("198.18.3.2"), allocator.Allocate());
        Assert.Equal(IPAddress.Parse("198.18.3.3"), allocator.Allocate());
        allocator.Release(IPAddress.Parse("198.18.3.2"));
        Assert.Equal(IPAddress.Parse("198.18.3.2"), allocator.Allocate());
        Assert.Equal(IPAddress.Parse("198.18.3.4"), allocator.Allocate());
    }

    [Fact]
    public void RunsOutWithDockerdsSentence()
    {
        // A /30 has one host address besides the gateway, as dockerd's: .0 network, .1 gateway, .2, .3 broadcast.
        var allocator = new AddressAllocator(Subnet("198.18.3.0/30"), null, IPAddress.Parse("198.18.3.1"), "tiny (abc)");
        Assert.Equal(IPAddress.Parse("198.18.3.2"), allocator.Allocate());
        var e = Assert.Throws<AddressAllocationException>(() => allocator.Allocate());
        Assert.Equal("no available IPv4 addresses on this network's address pools: tiny (abc)", e.Message);
    }

    [Fact]
    public void WantedAddressesAreCheckedAsDockerdDoes()
    {
        var allocator = new AddressAllocator(Subnet("198.18.1.0/24"), null, IPAddress.Parse("198.18.1.1"), "n1 (abc)");
        Assert.Equal(IPAddress.Parse("198.18.1.9"), allocator.Allocate(IPAddress.Parse("198.18.1.9")));
        Assert.Equal("Address already in use", Assert.Throws<AddressAllocationException>(() => allocator.Allocate(IPAddress.Parse("198.18.1.9"))).Message);
        Assert.Equal("Address already in use", Assert.Throws<AddressAllocationException>(() => allocator.Allocate(IPAddress.Parse("198.18.1.1"))).Message);
        Assert.Equal("Invalid address 198.18.50.5: It does not belong to any of this network's subnets",
            Assert.Throws<AddressAllocationException>(() => allocator.Allocate(IPAddress.Parse("198.18.50.5"))).Message);
        Assert.False(allocator.Reserve(IPAddress.Parse("198.18.1.9")));
        Assert.True(allocator.Reserve(IPAddress.Parse("198.18.1.10")));
        Assert.Equal(IPAddress.Parse("198.18.1.2"), allocator.Allocate());
    }

    [Fact]
    public void AnIpRangeBoundsTheContainersAddresses()
    {
        var allocator = new AddressAllocator(Subnet("198.18.9.0/24"), Subnet("198.18.9.16/30"), IPAddress.Parse("198.18.9.1"), "r (abc)");
        Assert.Equal(["198.18.9.16", "198.18.9.17", "198.18.9.18", "198.18.9.19"], Enumerable.Range(0, 4).Select(_ => allocator.Allocate().ToString()));
        Assert.Throws<AddressAllocationException>(() => allocator.Allocate());
    }

    [Fact]
    public void PoolsGiveTheFirstSubnetNoNetworkUses()
    {
        Assert.Equal("172.17.0.0/16", AddressPool.FirstFree(AddressPool.Defaults, [])!.Value.ToString());
        Assert.Equal("172.19.0.0/16", AddressPool.FirstFree(AddressPool.Defaults, [Subnet("172.17.0.0/16"), Subnet("172.18.4.0/24")])!.Value.ToString());
        var pool = AddressPool.Parse("base=198.18.0.0/16,size=24");
        Assert.Equal("198.18.1.0/24", AddressPool.FirstFree([pool], [Subnet("198.18.0.0/24")])!.Value.ToString());
        Assert.Null(AddressPool.FirstFree([AddressPool.Parse("base=198.18.0.0/23,size=24")], [Subnet("198.18.0.0/23")]));
        Assert.Equal(16, AddressPool.Defaults.Count);
        Assert.Equal("192.168.0.0/16", AddressPool.Defaults[^1].Base.ToString());
    }

    [Theory]
    [InlineData("base=198.18.0.0/16", "invalid --default-address-pool \"base=198.18.0.0/16\": it needs base=CIDR and size=PREFIX")]
    [InlineData("base=198.18.0.0/16,size=8", "invalid --default-address-pool \"base=198.18.0.0/16,size=8\": size 8 must be a prefix length from the base's (16) to 30")]
    [InlineData("base=198.18.0.1/16,size=24", "invalid --default-address-pool \"base=198.18.0.1/16,size=24\": invalid subnet 198.18.0.1/16: it has host bits set (the network is 198.18.0.0/16)")]
    [InlineData("bass=1,size=2", "invalid --default-address-pool \"bass=1,size=2\": unknown field \"bass\" (base=CIDR,size=PREFIX)")]
    public void BadPoolsAreRefused(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => AddressPool.Parse(text)).Message);
}
