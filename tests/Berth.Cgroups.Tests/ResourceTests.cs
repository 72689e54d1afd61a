using Berth.Oci;

namespace Berth.Cgroups.Tests;

public class CgroupValuesTests
{
    [Theory]
    [InlineData(2UL, 1UL)]
    [InlineData(1024UL, 39UL)]
    [InlineData(512UL, 20UL)]
    [InlineData(262144UL, 10000UL)]
    [InlineData(1UL, 1UL)] // below the v1 minimum: clamped
    [InlineData(1000000UL, 10000UL)]
    public void SharesBecomeWeightsAsCrunConvertsThem(ulong shares, ulong weight) =>
        Assert.Equal(weight, CgroupValues.SharesToWeight(shares));

    [Theory]
    [InlineData(10, 1UL)]
    [InlineData(500, 4950UL)]
    [InlineData(1000, 10000UL)]
    public void BlkioWeightsBecomeIoWeights(ushort blkio, ulong io) =>
        Assert.Equal(io, CgroupValues.BlkioWeightToIoWeight(blkio, "w"));

    [Fact]
    public void BlkioWeightOutsideItsRangeIsRefused()
    {
        var e = Assert.Throws<CgroupException>(() => CgroupValues.BlkioWeightToIoWeight(5, "linux.resources.blockIO.weight"));
        Assert.Equal("linux.resources.blockIO.weight 5 is outside the blkio weight range 10-1000", e.Message);
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData(null, -1L, -1L)]        // unlimited memory: unlimited swap too
    [InlineData(-1L, 1000L, -1L)]
    [InlineData(3000L, 1000L, 2000L)]   // memory+swap minus memory
    [InlineData(1000L, 1000L, 0L)]
    public void SwapBecomesSwapAlone(long? swap, long? limit, long? expected) =>
        Assert.Equal(expected, CgroupValues.SwapToV2(swap, limit));

    [Fact]
    public void SwapBelowTheLimitOrWithoutOneIsRefused()
    {
        Assert.Contains("is below linux.resources.memory.limit 2000", Assert.Throws<CgroupException>(() => CgroupValues.SwapToV2(1000, 2000)).Message);
        Assert.Contains("needs linux.resources.memory.limit", Assert.Throws<CgroupException>(() => CgroupValues.SwapToV2(1000, null)).Message);
    }
}

/// <summary>A temp dir with one fake v1 hierarchy per controller; each container directory has the given files, empty.</summary>
sealed class V1Tree : IDisposable
{
    public V1Tree(params string[] files)
    {
        Root = Directory.CreateTempSubdirectory("berth-v1-").FullName;
        var paths = new Dictionary<string, string>();
        foreach (string key in (string[])["memory", "cpu", "cpuset", "pids", "blkio", "devices", "unified"])
        {
            paths[key] = Path.Combine(Root, key, "c1");
            Directory.CreateDirectory(paths[key]);
        }
        foreach (string file in files)
        {
            int slash = file.IndexOf('/');
            File.WriteAllText(Path.Combine(paths[file[..slash]], file[(slash + 1)..]), "");
        }
        Manager = CgroupManager.Load(paths, fs: new FakeCgroupFs(Root));
    }

    public string Root { get; }
    public CgroupManager Manager { get; }

    public string Read(string file) => File.ReadAllText(Path.Combine(Root, file.Split('/')[0], "c1", file.Split('/')[1]));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public class V1ResourceTests
{
    static readonly string[] CommonFiles =
    [
        "memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes", "memory/memory.soft_limit_in_bytes",
        "memory/memory.swappiness", "memory/memory.oom_control", "cpu/cpu.shares", "cpu/cpu.cfs_quota_us",
        "cpu/cpu.cfs_period_us", "cpu/cpu.cfs_burst_us", "cpu/cpu.idle", "cpu/cpu.rt_period_us", "cpu/cpu.rt_runtime_us",
        "cpuset/cpuset.cpus", "cpuset/cpuset.mems", "pids/pids.max", "blkio/blkio.throttle.read_bps_device",
        "blkio/blkio.throttle.write_iops_device", "devices/devices.allow", "devices/devices.deny",
    ];

    [Fact]
    public void EveryV1FieldLandsInItsFile()
    {
        using var tree = new V1Tree(CommonFiles);
        tree.Manager.Apply(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 33554432, Swap = 67108864, Reservation = 16777216, Swappiness = 10, DisableOOMKiller = true },
            Cpu = new LinuxCpu { Shares = 512, Quota = 50000, Period = 100000, Burst = 1000, Idle = 1, RealtimePeriod = 1000000, RealtimeRuntime = 950000, Cpus = "0", Mems = "0" },
            Pids = new LinuxPids { Limit = 16 },
            BlockIO = new LinuxBlockIo
            {
                ThrottleReadBpsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1048576 }],
                ThrottleWriteIOPSDevice = [new LinuxThrottleDevice { Major = 8, Minor = 16, Rate = 100 }],
            },
        });
        Assert.Equal("33554432", tree.Read("memory/memory.limit_in_bytes"));
        Assert.Equal("67108864", tree.Read("memory/memory.memsw.limit_in_bytes"));
        Assert.Equal("16777216", tree.Read("memory/memory.soft_limit_in_bytes"));
        Assert.Equal("10", tree.Read("memory/memory.swappiness"));
        Assert.Equal("1", tree.Read("memory/memory.oom_control"));
        Assert.Equal("512", tree.Read("cpu/cpu.shares"));
        Assert.Equal("50000", tree.Read("cpu/cpu.cfs_quota_us"));
        Assert.Equal("100000", tree.Read("cpu/cpu.cfs_period_us"));
        Assert.Equal("1000", tree.Read("cpu/cpu.cfs_burst_us"));
        Assert.Equal("1", tree.Read("cpu/cpu.idle"));
        Assert.Equal("950000", tree.Read("cpu/cpu.rt_runtime_us"));
        Assert.Equal("0", tree.Read("cpuset/cpuset.cpus"));
        Assert.Equal("16", tree.Read("pids/pids.max"));
        Assert.Equal("8:0 1048576", tree.Read("blkio/blkio.throttle.read_bps_device"));
        Assert.Equal("8:16 100", tree.Read("blkio/blkio.throttle.write_iops_device"));
    }

    [Fact]
    public void MemoryAndSwapOrderFollowsTheDirectionOfTheChange()
    {
        using var tree = new V1Tree(CommonFiles);
        var paths = tree.Manager.Paths;
        // Lowering (current limit unlimited, unreadable here: treated as max): the limit first, then memsw.
        var lower = V1ResourcePlan.Plan(new LinuxResources { Memory = new LinuxMemory { Limit = 100, Swap = 200 } }, paths);
        Assert.Equal(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"], lower.Select(w => w.File));
        // Unlimited: memsw first (it must never be below the limit).
        var unlimited = V1ResourcePlan.Plan(new LinuxResources { Memory = new LinuxMemory { Limit = -1 } }, paths);
        Assert.Equal([("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")], unlimited.Select(w => (w.File, w.Value)));
    }

    [Fact]
    public void RefusalsComeBeforeAnyWriteAndNameTheField()
    {
        using var tree = new V1Tree(CommonFiles);
        void Refused(LinuxResources r, string message)
        {
            var e = Assert.Throws<CgroupException>(() => tree.Manager.Apply(r));
            Assert.Contains(message, e.Message);
        }
        Refused(new LinuxResources { Pids = new LinuxPids { Limit = 5 }, Memory = new LinuxMemory { Swappiness = 101 } }, "swappiness 101 is outside 0-100");
        // No v1 hugetlb: the cgroup2 directory of this hybrid layout, where the controller's file is missing.
        Refused(new LinuxResources { HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 1 }] },
            $"linux.resources.hugepageLimits[0]: {tree.Root}/unified/c1/hugetlb.2MB.max does not exist");
        Refused(new LinuxResources { HugepageLimits = [new LinuxHugepageLimit { PageSize = "3MB", Limit = 1 }] },
            "linux.resources.hugepageLimits[0].pageSize \"3MB\" is not a huge page size of this host");
        Refused(new LinuxResources { Network = new LinuxNetwork { ClassID = 7 } },
            "linux.resources.network.classID: the net_cls cgroup controller is not mounted");
        Refused(new LinuxResources { Network = new LinuxNetwork { Priorities = [new LinuxInterfacePriority { Name = "eth0", Priority = 1 }] } },
            "linux.resources.network.priorities: the net_prio cgroup controller is not mounted");
        Refused(new LinuxResources { Rdma = new() { ["mlx4_0"] = new LinuxRdma { HcaHandles = 2 } } },
            "linux.resources.rdma.mlx4_0: the rdma cgroup controller is not mounted");
        Refused(new LinuxResources { BlockIO = new LinuxBlockIo { Weight = 500 } },
            "linux.resources.blockIO.weight: none of blkio.weight, blkio.bfq.weight exists");
        Refused(new LinuxResources { Unified = new() { ["memory.high"] = "1G" } }, "cannot use unified on cgroup v1");
        // The first refusal came before the pids write.
        Assert.Equal("", tree.Read("pids/pids.max"));
        Assert.Equal("", tree.Read("devices/devices.deny"));
    }

    [Fact]
    public void BfqWeightsAreUsedWhenThatIsWhatTheKernelOffers()
    {
        using var tree = new V1Tree([.. CommonFiles, "blkio/blkio.bfq.weight", "blkio/blkio.bfq.weight_device"]);
        tree.Manager.Apply(new LinuxResources
        {
            BlockIO = new LinuxBlockIo { Weight = 300, WeightDevice = [new LinuxWeightDevice { Major = 8, Minor = 0, Weight = 700 }] },
        });
        Assert.Equal("300", tree.Read("blkio/blkio.bfq.weight"));
        Assert.Equal("8:0 700", tree.Read("blkio/blkio.bfq.weight_device"));
    }

    [Fact]
    public void AFileMissingAtWriteTimeIsNamedWithTheField()
    {
        using var tree = new V1Tree("devices/devices.allow", "devices/devices.deny");
        var e = Assert.Throws<CgroupException>(() => tree.Manager.Apply(new LinuxResources { Cpu = new LinuxCpu { Cpus = "0-1" } }));
        Assert.Equal($"linux.resources.cpu.cpus: {tree.Root}/cpuset/c1/cpuset.cpus does not exist (is its controller enabled for this cgroup?)", e.Message);
    }
}

/// <summary>
/// A temp dir laid out as a pure cgroup v2 host has it: the root offers controllers, nothing is enabled yet, and
/// the container's directory has the interface files its controllers would show.
/// </summary>
sealed class V2Tree : IDisposable
{
    public const string Controllers = "cpuset cpu io memory hugetlb pids rdma";
    static readonly string[] LeafFiles =
    [
        "memory.max", "memory.low", "memory.swap.max", "cpu.max", "cpu.weight", "cpu.max.burst", "cpu.idle",
        "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "rdma.max",
        "memory.high", "cgroup.procs",
    ];

    public V2Tree(bool bfq = false)
    {
        Root = Directory.CreateTempSubdirectory("berth-v2-").FullName;
        Mount = Path.Combine(Root, "cgroup");
        foreach (string dir in (string[])[Mount, Path.Combine(Mount, "berth")])
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cgroup.controllers"), dir == Mount ? Controllers : "");
            File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), "");
        }
        Leaf = Path.Combine(Mount, "berth", "c1");
        Directory.CreateDirectory(Leaf);
        foreach (string file in bfq ? [.. LeafFiles, "io.bfq.weight"] : LeafFiles)
            File.WriteAllText(Path.Combine(Leaf, file), "");
        Manager = CgroupManager.Load(new Dictionary<string, string> { [CgroupManager.V2Key] = Leaf }, fs: new FakeCgroupFs(Mount), deviceFilter: Filters);
    }

    public RecordingDeviceFilter Filters { get; } = new();

    public string Root { get; }
    public string Mount { get; }
    public string Leaf { get; }
    public CgroupManager Manager { get; }

    public string Read(string file) => File.ReadAllText(Path.Combine(Leaf, file));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public class V2ResourceTests
{
    static readonly LinuxDeviceCgroup AllowAll = new() { Allow = true, Access = "rwm" };

    [Fact]
    public void EveryV2FieldLandsInItsFileConverted()
    {
        using var tree = new V2Tree();
        tree.Manager.Apply(new LinuxResources
        {
            Devices = [AllowAll],
            Memory = new LinuxMemory { Limit = 33554432, Swap = 50331648, Reservation = 16777216 },
            Cpu = new LinuxCpu { Shares = 512, Quota = 50000, Period = 100000, Burst = 1000, Idle = 0, Cpus = "0-1", Mems = "0" },
            Pids = new LinuxPids { Limit = 16 },
            BlockIO = new LinuxBlockIo { Weight = 500, ThrottleWriteBpsDevice = [new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1048576 }] },
            HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB", Limit = 4194304 }],
            Rdma = new() { ["mlx4_0"] = new LinuxRdma { HcaHandles = 2, HcaObjects = 2000 } },
            Unified = new() { ["memory.high"] = "30000000" },
        });
        Assert.Equal("33554432", tree.Read("memory.max"));
        Assert.Equal("16777216", tree.Read("memory.low"));
        Assert.Equal("16777216", tree.Read("memory.swap.max")); // memory+swap minus memory
        Assert.Equal("20", tree.Read("cpu.weight"));
        Assert.Equal("50000 100000", tree.Read("cpu.max"));
        Assert.Equal("1000", tree.Read("cpu.max.burst"));
        Assert.Equal("0", tree.Read("cpu.idle"));
        Assert.Equal("0-1", tree.Read("cpuset.cpus"));
        Assert.Equal("16", tree.Read("pids.max"));
        Assert.Equal("default 4950", tree.Read("io.weight"));
        Assert.Equal("8:0 wbps=1048576", tree.Read("io.max"));
        Assert.Equal("4194304", tree.Read("hugetlb.2MB.max"));
        Assert.Equal("mlx4_0 hca_handle=2 hca_object=2000", tree.Read("rdma.max"));
        Assert.Equal("30000000", tree.Read("memory.high"));
        // Delegation: the root and the parent enable exactly the controllers used, in one write each.
        const string enabled = "+cpu +cpuset +hugetlb +io +memory +pids +rdma";
        Assert.Equal(enabled, File.ReadAllText(Path.Combine(tree.Mount, "cgroup.subtree_control")));
        Assert.Equal(enabled, File.ReadAllText(Path.Combine(tree.Mount, "berth", "cgroup.subtree_control")));
    }

    [Fact]
    public void UnlimitedValuesAreMaxAndAlreadyEnabledControllersAreLeftAlone()
    {
        using var tree = new V2Tree();
        File.WriteAllText(Path.Combine(tree.Mount, "cgroup.subtree_control"), "memory pids");
        File.WriteAllText(Path.Combine(tree.Mount, "berth", "cgroup.subtree_control"), "memory pids");
        tree.Manager.Update(new LinuxResources { Memory = new LinuxMemory { Limit = -1 }, Pids = new LinuxPids { Limit = -1 }, Cpu = new LinuxCpu { Period = 50000 } });
        Assert.Equal("max", tree.Read("memory.max"));
        Assert.Equal("max", tree.Read("memory.swap.max"));
        Assert.Equal("max", tree.Read("pids.max"));
        Assert.Equal("max 50000", tree.Read("cpu.max"));
        Assert.Equal("+cpu", File.ReadAllText(Path.Combine(tree.Mount, "cgroup.subtree_control"))[..4]);
    }

    [Fact]
    public void ZeroBlkioWeightsAreUnset()
    {
        // dockerd sends blockIO {weight: 0} for every container; runc treats 0 as unset. Without a weight file in
        // this tree, a write of the weight would be refused.
        using var v1 = new V1Tree("devices/devices.allow", "devices/devices.deny");
        v1.Manager.Apply(new LinuxResources { BlockIO = new LinuxBlockIo { Weight = 0, LeafWeight = 0 } });
        using var v2 = new V2Tree(bfq: true);
        v2.Manager.Update(new LinuxResources { BlockIO = new LinuxBlockIo { Weight = 0, LeafWeight = 0 } });
        Assert.Equal("", v2.Read("io.bfq.weight"));
        Assert.Equal("", v2.Read("io.weight"));
    }

    [Fact]
    public void ZeroKernelMemoryLimitsAreUnset()
    {
        // `docker update` sends memory {kernel: 0, kernelTCP: 0}; runc ignores kernel memory settings altogether.
        var zero = new LinuxResources { Memory = new LinuxMemory { Kernel = 0, KernelTCP = 0 } };
        using var v1 = new V1Tree("devices/devices.allow", "devices/devices.deny");
        v1.Manager.Apply(zero);
        using var v2 = new V2Tree();
        v2.Manager.Update(zero);
        Assert.Equal("", v2.Read("memory.max")); // nothing written, nothing refused
    }

    [Fact]
    public void BfqTakesTheBlkioWeightUnconverted()
    {
        using var tree = new V2Tree(bfq: true);
        tree.Manager.Update(new LinuxResources { BlockIO = new LinuxBlockIo { Weight = 500 } });
        Assert.Equal("500", tree.Read("io.bfq.weight"));
        Assert.Equal("", tree.Read("io.weight"));
    }

    [Fact]
    public void FieldsWithoutAV2FileAreRefusedBeforeAnyWrite()
    {
        using var tree = new V2Tree();
        void Refused(LinuxResources r, string message) =>
            Assert.Contains(message, Assert.Throws<CgroupException>(() => tree.Manager.Update(r)).Message);
        Refused(new LinuxResources { Pids = new LinuxPids { Limit = 3 }, Memory = new LinuxMemory { Swappiness = 10 } }, "swappiness (10) has no cgroup v2 equivalent");
        Refused(new LinuxResources { Memory = new LinuxMemory { DisableOOMKiller = true } }, "disableOOMKiller has no cgroup v2 equivalent");
        Refused(new LinuxResources { Cpu = new LinuxCpu { RealtimeRuntime = 1 } }, "realtime CPU scheduling is not available on cgroup v2");
        Refused(new LinuxResources { BlockIO = new LinuxBlockIo { LeafWeight = 100 } }, "leafWeight has no cgroup v2 equivalent");
        Refused(new LinuxResources { Network = new LinuxNetwork { ClassID = 1 } }, "net_cls and net_prio do not exist on cgroup v2");
        Refused(new LinuxResources { Unified = new() { ["cgroup.procs"] = "1" } }, "cgroup.procs is managed by the runtime");
        Assert.Equal("", tree.Read("pids.max"));
        Assert.Equal("", File.ReadAllText(Path.Combine(tree.Mount, "cgroup.subtree_control")));
    }

    [Fact]
    public void AControllerTheHostDoesNotOfferIsNamed()
    {
        using var tree = new V2Tree();
        File.WriteAllText(Path.Combine(tree.Mount, "cgroup.controllers"), "cpu memory");
        var e = Assert.Throws<CgroupException>(() => tree.Manager.Update(new LinuxResources { Pids = new LinuxPids { Limit = 3 } }));
        Assert.Equal($"the pids controller is not available in {tree.Mount} (cgroup.controllers: \"cpu memory\"), needed for the container's resources", e.Message);
    }

    [Fact]
    public void CheckBeforeUpdateRefusesALimitBelowUsage()
    {
        using var tree = new V2Tree();
        File.WriteAllText(Path.Combine(tree.Leaf, "memory.current"), "5000000\n");
        var e = Assert.Throws<CgroupException>(() => tree.Manager.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 4000000, CheckBeforeUpdate = true } }));
        Assert.Equal("linux.resources.memory.limit 4000000 is below the container's current memory usage 5000000 (checkBeforeUpdate is set)", e.Message);
        tree.Manager.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 6000000, CheckBeforeUpdate = true } });
        Assert.Equal("6000000", tree.Read("memory.max"));
    }
}

public class FreezeTempDirTests
{
    [Fact]
    public void V1FreezerIsWrittenAndReadBack()
    {
        using var tree = new TempCgroupTree();
        Directory.CreateDirectory(tree["memory/freezer-c1"]);
        File.WriteAllText(tree["memory/freezer-c1/freezer.state"], "THAWED");
        var m = CgroupManager.Load(new Dictionary<string, string> { ["freezer"] = tree["memory/freezer-c1"] }, fs: tree.Fs);
        Assert.False(m.IsFrozen());
        m.Freeze();
        Assert.True(m.IsFrozen());
        m.Thaw();
        Assert.Equal("THAWED", File.ReadAllText(tree["memory/freezer-c1/freezer.state"]));
        Assert.False(m.IsFrozen());
    }

    [Fact]
    public void V2FreezeWaitsForCgroupEvents()
    {
        using var tree = new V2Tree();
        File.WriteAllText(Path.Combine(tree.Leaf, "cgroup.freeze"), "0");
        File.WriteAllText(Path.Combine(tree.Leaf, "cgroup.events"), "populated 1\nfrozen 1\n"); // what the kernel reports once frozen
        tree.Manager.Freeze();
        Assert.Equal("1", tree.Read("cgroup.freeze"));
        Assert.True(tree.Manager.IsFrozen());
    }

    [Fact]
    public void FreezingWithoutAnyFreezerIsRefused()
    {
        using var tree = new TempCgroupTree();
        var m = CgroupManager.Load(new Dictionary<string, string> { ["memory"] = tree["memory"] }, fs: tree.Fs);
        Assert.Contains("neither a v1 freezer cgroup nor a cgroup2 directory", Assert.Throws<CgroupException>(m.Freeze).Message);
        Assert.False(m.IsFrozen());
    }
}

public class StatsReaderTests
{
    [Fact]
    public void V1StatsUseRuncsUnitsAndNames()
    {
        using var tree = new V1Tree();
        string Dir(string key) => tree.Manager.Paths.TryGetValue(key, out var d) ? d : throw new KeyNotFoundException(key);
        var paths = new Dictionary<string, string>(tree.Manager.Paths) { ["cpuacct"] = Dir("cpu") };
        File.WriteAllText(Path.Combine(Dir("cpu"), "cpuacct.usage"), "123456789\n");
        File.WriteAllText(Path.Combine(Dir("cpu"), "cpuacct.usage_percpu"), "100 200 \n");
        File.WriteAllText(Path.Combine(Dir("cpu"), "cpuacct.stat"), "user 3\nsystem 2\n");
        File.WriteAllText(Path.Combine(Dir("cpu"), "cpu.stat"), "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n");
        File.WriteAllText(Path.Combine(Dir("memory"), "memory.usage_in_bytes"), "1000\n");
        File.WriteAllText(Path.Combine(Dir("memory"), "memory.limit_in_bytes"), "33554432\n");
        File.WriteAllText(Path.Combine(Dir("memory"), "memory.failcnt"), "7\n");
        File.WriteAllText(Path.Combine(Dir("memory"), "memory.stat"), "cache 4096\nrss 8192\ntotal_cache 4096\n");
        File.WriteAllText(Path.Combine(Dir("pids"), "pids.current"), "3\n");
        File.WriteAllText(Path.Combine(Dir("pids"), "pids.max"), "max\n");
        File.WriteAllText(Path.Combine(Dir("blkio"), "blkio.throttle.io_service_bytes_recursive"), "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");

        var s = StatsReader.Read(paths);

        Assert.Equal(123456789UL, s.Cpu.Usage.Total);
        Assert.Equal([100UL, 200UL], s.Cpu.Usage.Percpu);
        Assert.Equal(30_000_000UL, s.Cpu.Usage.User); // 3 ticks of 10 ms
        Assert.Equal(20_000_000UL, s.Cpu.Usage.Kernel);
        Assert.Equal(4UL, s.Cpu.Throttling.ThrottledPeriods);
        Assert.Equal(33554432UL, s.Memory.Usage.Limit);
        Assert.Equal(7UL, s.Memory.Usage.Failcnt);
        Assert.Equal(4096UL, s.Memory.Cache);
        Assert.Equal(8192UL, s.Memory.Raw!["rss"]);
        Assert.Equal(3UL, s.Pids.Current);
        Assert.Equal(0UL, s.Pids.Limit);
        Assert.Equal("Read", s.Blkio.IoServiceBytesRecursive![0].Op);

        string json = System.Text.Json.JsonSerializer.Serialize(new StatsEvent { Id = "c1", Data = s }, CgroupJsonContext.Default.StatsEvent);
        Assert.StartsWith("{\"type\":\"stats\",\"id\":\"c1\",\"data\":{\"cpu\":{\"usage\":{\"total\":123456789,\"percpu\":[100,200],\"kernel\":20000000,\"user\":30000000}," +
            "\"throttling\":{\"periods\":10,\"throttledPeriods\":4,\"throttledTime\":5000}}", json);
        Assert.Contains("\"pids\":{\"current\":3}", json); // omitempty, as runc
        Assert.Contains("\"blkio\":{\"ioServiceBytesRecursive\":[{\"major\":8,\"op\":\"Read\",\"value\":4096},{\"major\":8,\"op\":\"Write\"}]}", json);
    }

    [Fact]
    public void V1CpusetAndPerCpuTimes()
    {
        using var tree = new V1Tree();
        string dir = tree.Manager.Paths["cpu"];
        var paths = new Dictionary<string, string> { ["cpuacct"] = dir, ["cpuset"] = dir };
        File.WriteAllText(Path.Combine(dir, "cpuacct.usage_percpu"), "300 400\n");
        File.WriteAllText(Path.Combine(dir, "cpuacct.usage_percpu_sys"), "100 150\n");
        File.WriteAllText(Path.Combine(dir, "cpuacct.usage_percpu_user"), "200 250\n");
        File.WriteAllText(Path.Combine(dir, "cpuset.cpus"), "0-2,5\n");
        File.WriteAllText(Path.Combine(dir, "cpuset.mems"), "0\n");
        File.WriteAllText(Path.Combine(dir, "cpuset.cpu_exclusive"), "1\n");
        File.WriteAllText(Path.Combine(dir, "cpuset.sched_load_balance"), "1\n");
        File.WriteAllText(Path.Combine(dir, "cpuset.sched_relax_domain_level"), "-1\n");

        var s = StatsReader.Read(paths);

        Assert.Equal([100UL, 150UL], s.Cpu.Usage.PercpuKernel);
        Assert.Equal([200UL, 250UL], s.Cpu.Usage.PercpuUser);
        Assert.Equal([(ushort)0, 1, 2, 5], s.Cpuset.Cpus);
        Assert.Equal([(ushort)0], s.Cpuset.Mems);
        Assert.Equal(1UL, s.Cpuset.CpuExclusive);
        Assert.Equal(-1L, s.Cpuset.SchedRelaxDomainLevel);
        string json = System.Text.Json.JsonSerializer.Serialize(new StatsEvent { Id = "c1", Data = s }, CgroupJsonContext.Default.StatsEvent);
        Assert.Contains("\"usage\":{\"percpu\":[300,400],\"percpu_kernel\":[100,150],\"percpu_user\":[200,250],\"kernel\":0,\"user\":0}", json);
        Assert.Contains("\"cpuset\":{\"cpus\":[0,1,2,5],\"cpu_exclusive\":1,\"mems\":[0],\"mem_hardwall\":0,\"mem_exclusive\":0,\"memory_migrate\":0," +
            "\"memory_spread_page\":0,\"memory_spread_slab\":0,\"memory_pressure\":0,\"sched_load_balance\":1,\"sched_relax_domain_level\":-1}", json);
    }

    [Fact]
    public void V2StatsConvertMicrosecondsAndMax()
    {
        using var tree = new V2Tree();
        File.WriteAllText(Path.Combine(tree.Leaf, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 2\nnr_throttled 1\nthrottled_usec 30\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "memory.current"), "2048\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "memory.max"), "max\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "pids.current"), "2\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "pids.max"), "16\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "io.stat"), "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");

        var s = tree.Manager.Stats();

        Assert.Equal(1_500_000UL, s.Cpu.Usage.Total);
        Assert.Equal(500_000UL, s.Cpu.Usage.Kernel);
        Assert.Equal(30_000UL, s.Cpu.Throttling.ThrottledTime);
        Assert.Equal(2048UL, s.Memory.Usage.Usage);
        Assert.Equal(ulong.MaxValue, s.Memory.Usage.Limit);
        Assert.Equal(5UL, s.Memory.Usage.Failcnt);
        Assert.Equal(16UL, s.Pids.Limit);
        Assert.Equal([("Read", 100UL), ("Write", 200UL)], s.Blkio.IoServiceBytesRecursive!.Select(e => (e.Op!, e.Value)));
        Assert.Equal([("Read", 1UL), ("Write", 2UL)], s.Blkio.IoServicedRecursive!.Select(e => (e.Op!, e.Value)));
        Assert.True(s.Hugetlb.ContainsKey("2MB"));
        Assert.Null(s.Cpuset.Cpus);

        File.WriteAllText(Path.Combine(tree.Leaf, "cpuset.cpus.effective"), "1\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "cpuset.mems.effective"), "0\n");
        s = tree.Manager.Stats();
        Assert.Equal([(ushort)1], s.Cpuset.Cpus);
        Assert.Equal([(ushort)0], s.Cpuset.Mems);
    }
}

/// <summary>The cgroup v2 OOM watch, with real inotify on a temp-dir memory.events and cgroup.events.</summary>
public class OomNotifierV2Tests
{
    [Fact]
    public void AnOomKillIncreaseIsAnOom_PopulatedZeroIsTheEnd()
    {
        using var tree = new V2Tree();
        string events = Path.Combine(tree.Leaf, "memory.events"), cgroupEvents = Path.Combine(tree.Leaf, "cgroup.events");
        File.WriteAllText(events, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"); // an OOM before the watch: not reported
        File.WriteAllText(cgroupEvents, "populated 1\nfrozen 0\n");
        using var oom = OomNotifier.Open(tree.Manager.Paths);

        Assert.Equal(OomWait.Timeout, oom.Wait(TimeSpan.FromMilliseconds(50)));
        File.WriteAllText(events, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"); // modified, no new kill
        Assert.Equal(OomWait.Timeout, oom.Wait(TimeSpan.FromSeconds(1)));
        File.WriteAllText(events, "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
        Assert.Equal(OomWait.Oom, oom.Wait(TimeSpan.FromSeconds(5)));
        File.WriteAllText(cgroupEvents, "populated 0\nfrozen 0\n");
        Assert.Equal(OomWait.Ended, oom.Wait(TimeSpan.FromSeconds(5)));
        Assert.Equal(OomWait.Ended, oom.Wait(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void AnEndFd_EndsTheWait_AfterAnOomSeenWithIt()
    {
        using var tree = new V2Tree();
        string events = Path.Combine(tree.Leaf, "memory.events");
        File.WriteAllText(events, "oom_kill 0\n");
        File.WriteAllText(Path.Combine(tree.Leaf, "cgroup.events"), "populated 1\n");
        using var oom = OomNotifier.Open(tree.Manager.Paths);
        var (read, write) = Berth.Linux.Sys.Pipe();
        using (read)
        {
            write.Dispose(); // EOF: the end fd is readable, as a pidfd is once init has exited
            File.WriteAllText(events, "oom_kill 1\n"); // the OOM that killed it
            Assert.Equal(OomWait.Oom, oom.Wait(TimeSpan.FromSeconds(1), read));
            Assert.Equal(OomWait.Ended, oom.Wait(TimeSpan.FromSeconds(1), read));
        }
    }

    [Fact]
    public void WithoutAMemoryCgroup_OpenSaysSo()
    {
        var e = Assert.Throws<CgroupException>(() => OomNotifier.Open(new Dictionary<string, string> { ["cpu"] = "/nonexistent" }));
        Assert.Contains("no memory cgroup", e.Message);
    }
}

public class KillAllTempDirTests
{
    [Fact]
    public void CgroupKillIsUsedWhereItExists()
    {
        using var tree = new V2Tree();
        Assert.False(tree.Manager.TryKillAll()); // no cgroup.kill: the caller signals pid by pid
        File.WriteAllText(Path.Combine(tree.Leaf, "cgroup.kill"), "");
        Assert.True(tree.Manager.TryKillAll());
        Assert.Equal("1", tree.Read("cgroup.kill"));
    }
}
