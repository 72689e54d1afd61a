using Berth.Daemon.Hosting;
using Berth.Linux;
using Berth.Network;

namespace Berth.Daemon.Networks;

/// <summary>A network's Linux bridge in berthd's network namespace: made with the gateway's address and up, deleted with the network.</summary>
static class BridgeLinks
{
    public static void Create(NetworkRecord record)
    {
        using var netlink = RtNetlink.Open();
        netlink.CreateBridge(record.Bridge);
        try
        {
            netlink.AddAddress(record.Bridge, record.GatewayAddress, record.ParsedSubnet.PrefixLength);
            netlink.SetUp(record.Bridge);
        }
        catch
        {
            netlink.DeleteLink(record.Bridge);
            throw;
        }
    }

    /// <summary>At berthd's start: the bridge made again when it is gone (the host rebooted), its address and state set when not.</summary>
    public static void Ensure(NetworkRecord record)
    {
        using var netlink = RtNetlink.Open();
        switch (netlink.KindOf(record.Bridge))
        {
            case null:
                Create(record);
                return;
            case "bridge":
                break;
            case var other:
                // Someone else's link took the name meanwhile: berthd neither addresses nor, at rm, deletes it.
                throw new IOException($"the link {record.Bridge} of network {record.Name} is no bridge but {(other.Length > 0 ? "a " + other : "a device")}: it is not berthd's, and berthd leaves it alone");
        }
        var gateway = record.GatewayAddress;
        if (!netlink.Addresses().Any(a => a.Link == record.Bridge && a.Address.Equals(gateway)))
            netlink.AddAddress(record.Bridge, gateway, record.ParsedSubnet.PrefixLength);
        netlink.SetUp(record.Bridge);
    }

    public static void TryDelete(NetworkRecord record, DaemonLog log)
    {
        try
        {
            using var netlink = RtNetlink.Open();
            if (netlink.KindOf(record.Bridge) == "bridge") netlink.DeleteLink(record.Bridge);
        }
        catch (LinuxException e)
        {
            log.Warn("cannot delete the network's bridge", ("network", record.Name), ("bridge", record.Bridge), ("error", e.Message));
        }
    }
}
