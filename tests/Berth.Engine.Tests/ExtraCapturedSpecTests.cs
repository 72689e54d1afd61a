using Berth.Api;
using static Berth.Engine.Tests.CapturedSpecTests;

namespace Berth.Engine.Tests;

/// <summary>
/// The second set of dockerd captures (Resources/dockerd-extra/README.md has each one's flags): the rules the first
/// set does not show, compared field for field in the same way, with the same deliberate differences.
/// </summary>
public class ExtraCapturedSpecTests
{
    static readonly FixedDevices FuseAndZero = new([
        new HostDevice("/dev/fuse", 'c', 10, 229, 384 /* 0600 */, 0, 0),
        new HostDevice("/dev/zero", 'c', 1, 5, 438 /* 0666 */, 0, 0),
    ]);

    public static TheoryData<string> Variants =>
    [
        "capall", "sysadmin", "tmpfs-plain", "dev-fuse", "mem-only", "swap-unl", "cpuq", "pids-unl", "oom-dis", "grp-name",
        "uid-only", "uid-unknown", "nobody", "drop-add", "ulimits", "sysctl2", "hostnet-hn", "ep-empty", "swappiness",
        "ro-init", "capdup", "grpdup", "init-pidhost", "cgns", "cgparent", "sysp", "devrule", "ipc-none",
    ];

    [Theory]
    [MemberData(nameof(Variants))]
    public void Matches_dockerd(string variant)
    {
        Action<ContainerCreateRequest, HostConfig> flags = variant switch
        {
            "capall" => (_, h) => h.CapAdd = ["ALL"],
            "sysadmin" => (_, h) => h.CapAdd = ["CAP_SYS_ADMIN"],
            "tmpfs-plain" => (_, h) => h.Tmpfs = new() { ["/run"] = "", ["/x"] = "size=2m,mode=700,noexec" },
            "dev-fuse" => (_, h) => h.Devices =
            [
                new DeviceMapping { PathOnHost = "/dev/fuse", PathInContainer = "/dev/fuse", CgroupPermissions = "rwm" },
                new DeviceMapping { PathOnHost = "/dev/zero", PathInContainer = "/dev/z", CgroupPermissions = "r" },
            ],
            "mem-only" => (_, h) => h.Memory = 64 << 20,
            "swap-unl" => (_, h) => { h.Memory = 64 << 20; h.MemorySwap = -1; },
            "cpuq" => (_, h) => { h.CpuQuota = 20000; h.CpuPeriod = 50000; h.CpusetMems = "0"; h.CpuShares = 2; },
            "pids-unl" => (_, h) => h.PidsLimit = -1,
            "oom-dis" => (_, h) => { h.OomKillDisable = true; h.Memory = 64 << 20; },
            "grp-name" => (c, h) => { c.User = "app:extra"; h.GroupAdd = ["wheel"]; },
            "uid-only" => (c, _) => c.User = "1000",
            "uid-unknown" => (c, _) => c.User = "4242:4343",
            "nobody" => (c, _) => c.User = "nobody",
            "drop-add" => (_, h) => { h.CapDrop = ["ALL"]; h.CapAdd = ["CAP_CHOWN"]; },
            "ulimits" => (_, h) => h.Ulimits =
            [
                new Ulimit { Name = "core", Soft = -1, Hard = -1 },
                new Ulimit { Name = "nofile", Soft = 100, Hard = 100 },
                new Ulimit { Name = "nproc", Soft = 100, Hard = 200 },
            ],
            "sysctl2" => (_, h) => h.Sysctls = new() { ["kernel.shm_rmid_forced"] = "1", ["net.core.somaxconn"] = "100" },
            "hostnet-hn" => (c, h) => { h.NetworkMode = "host"; c.Hostname = "myh"; },
            "ep-empty" => (c, _) => { c.Entrypoint = [""]; c.Cmd = ["echo", "hi"]; },
            "swappiness" => (_, h) => h.MemorySwappiness = 10,
            "ro-init" => (_, h) => { h.ReadonlyRootfs = true; h.Init = true; },
            "capdup" => (_, h) => h.CapAdd = ["CAP_CHOWN", "CAP_KILL"],
            "grpdup" => (_, h) => h.GroupAdd = ["0", "10"],
            "init-pidhost" => (_, h) => { h.PidMode = "host"; h.Init = true; },
            "cgns" => (_, h) => h.CgroupnsMode = "private",
            "cgparent" => (_, h) => h.CgroupParent = "/mine",
            "sysp" => (_, h) => h.SecurityOpt = ["systempaths=unconfined"],
            "devrule" => (_, h) => h.DeviceCgroupRules = ["c 42:* rmw"],
            "ipc-none" => (_, h) => h.IpcMode = "none",
            _ => throw new ArgumentException(variant),
        };
        AssertLikeDockerd(variant, flags, directory: "dockerd-extra", devices: variant == "dev-fuse" ? FuseAndZero : null,
            berthDiffers: variant switch
            {
                "hostnet-hn" => spec =>
                {
                    var namespaces = spec["linux"]!["namespaces"]!.AsArray();
                    var network = namespaces.Single(n => (string?)n!["type"] == "network")!;
                    Assert.Equal("<exec-root>/netns/default", (string?)network["path"]);
                    namespaces.Remove(network);
                },
                "ro-init" => spec =>
                {
                    var init = spec["mounts"]!.AsArray().Single(m => (string?)m!["destination"] == "/sbin/docker-init")!;
                    Assert.Equal("/usr/bin/docker-init", (string?)init["source"]);
                    init["source"] = "/usr/bin/tini-static";
                },
                _ => null,
            });
    }
}
