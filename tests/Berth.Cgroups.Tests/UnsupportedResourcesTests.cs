using Berth.Oci;

namespace Berth.Cgroups.Tests;

public class UnsupportedResourcesTests
{
    [Fact]
    public void EmptyObjectsAreFine()
    {
        var r = new LinuxResources
        {
            Memory = new LinuxMemory { DisableOOMKiller = false, CheckBeforeUpdate = true },
            Cpu = new LinuxCpu { Cpus = "" },
            Pids = new LinuxPids { Limit = 0 },
            BlockIO = new LinuxBlockIo { WeightDevice = [] },
            HugepageLimits = [],
            Network = new LinuxNetwork(),
            Rdma = [],
            Unified = [],
            Devices = [new LinuxDeviceCgroup { Allow = false, Access = "rwm" }],
        };
        Assert.Empty(UnsupportedResources.Find(r));
        Assert.Empty(UnsupportedResources.Find(null));
        UnsupportedResources.Refuse(r);
    }

    [Fact]
    public void MemoryLimitIsRefusedNamingFieldAndValue()
    {
        var e = Assert.Throws<CgroupException>(() =>
            UnsupportedResources.Refuse(new LinuxResources { Memory = new LinuxMemory { Limit = 33554432 } }));
        Assert.Equal("linux.resources.memory.limit is not supported yet (value 33554432)", e.Message);
    }

    [Fact]
    public void EveryKindOfFieldIsFound()
    {
        var r = new LinuxResources
        {
            Memory = new LinuxMemory { Swappiness = 10, DisableOOMKiller = true },
            Cpu = new LinuxCpu { Quota = 50000, Cpus = "0-1" },
            Pids = new LinuxPids { Limit = -1 },
            BlockIO = new LinuxBlockIo { Weight = 500, ThrottleReadBpsDevice = [new LinuxThrottleDevice { Major = 8, Rate = 1 }] },
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 1 }],
            Network = new LinuxNetwork { ClassID = 7 },
            Unified = new Dictionary<string, string> { ["memory.high"] = "1G" },
        };
        Assert.Equal(
            ["memory.swappiness", "memory.disableOOMKiller", "cpu.quota", "cpu.cpus", "pids.limit", "blockIO.weight",
             "blockIO.throttleReadBpsDevice", "hugepageLimits", "network.classID", "unified"],
            UnsupportedResources.Find(r).Select(f => f.Field["linux.resources.".Length..]));
        var e = Assert.Throws<CgroupException>(() => UnsupportedResources.Refuse(r));
        Assert.StartsWith("linux.resources.memory.swappiness is not supported yet (value 10) (and 9 more:", e.Message);
    }
}
