using Berth.Oci;

namespace Berth.Cgroups.Tests;

/// <summary>
/// CgroupManager.Preflight: the refusals that need only the host, made from the container's paths before any of
/// its directories exists (`create` calls it before it claims the id); what needs the container's own files is left
/// to Apply.
/// </summary>
public class PreflightTests
{
    static readonly string Missing = Path.Combine(Path.GetTempPath(), "berth-preflight-" + Guid.NewGuid().ToString("N"));

    static CgroupManager HybridManager() => CgroupManager.Load(new Dictionary<string, string>
    {
        ["devices"] = Missing + "/devices/c1",
        ["memory"] = Missing + "/memory/c1",
        ["blkio"] = Missing + "/blkio/c1",
        ["cpu"] = Missing + "/cpu/c1",
        [CgroupManager.HybridUnifiedKey] = Missing + "/unified/c1",
    });

    [Fact]
    public void WhatTheHostCannotTakeIsRefusedByName()
    {
        var m = HybridManager();
        void Refused(LinuxResources r, string message) =>
            Assert.Contains(message, Assert.Throws<CgroupException>(() => m.Preflight(CheckedResources.ForCreate(r))).Message);

        Refused(new LinuxResources { Unified = new() { ["memory.high"] = "1" } }, "linux.resources.unified: invalid configuration: cannot use unified on cgroup v1");
        Refused(new LinuxResources { Network = new LinuxNetwork { ClassID = 1 } }, "linux.resources.network.classID: the net_cls cgroup controller is not mounted");
        Refused(new LinuxResources { Pids = new LinuxPids { Limit = 5 } }, "linux.resources.pids.limit: the pids cgroup controller is not mounted");
        Assert.False(Directory.Exists(Missing));
    }

    [Fact]
    public void FilesOfTheContainersOwnCgroupAreNotLookedFor()
    {
        // memsw and the blkio weight file exist only once the directory does: Apply checks them then.
        HybridManager().Preflight(CheckedResources.ForCreate(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 1 << 20, Swap = 2 << 20 },
            BlockIO = new LinuxBlockIo { Weight = 500 },
            Cpu = new LinuxCpu { Shares = 512, Quota = 20000, Period = 100000 },
        }));
        Assert.False(Directory.Exists(Missing));
    }
}
