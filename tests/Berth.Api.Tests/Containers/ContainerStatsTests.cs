using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;
using Berth.Cgroups;
using Berth.Daemon.Containers;
using Berth.Tests.Shared;

namespace Berth.Api.Tests.Containers;


/// <summary>
/// The stats converter against Resources/dockerd-stats-busy.json (dockerd 20.10 on this hybrid host, cgroup v1, a
/// container spinning in `while :; do :; done` with --network none): the same cgroup readings give the same JSON, and
/// the docker CLI's arithmetic on our output shows CPU % and memory.
/// </summary>
public sealed class ContainerStatsTests
{
    static readonly JsonNode Dockerd = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", "dockerd-stats-busy.json")))!;

    /// <summary>The cgroup readings runc (and Berth.Cgroups.StatsReader) would have made for dockerd's sample.</summary>
    static StatsSample Sample(string read, string cpu, JsonNode d) => new(DateTimeOffset.Parse(read, System.Globalization.CultureInfo.InvariantCulture), new CgroupStats
    {
        Cpu = new CpuStats
        {
            Usage = new CpuUsage
            {
                Total = (ulong)d[cpu]!["cpu_usage"]!["total_usage"]!,
                Percpu = d[cpu]!["cpu_usage"]!["percpu_usage"]!.AsArray().Select(n => (ulong)n!).ToList(),
                Kernel = (ulong)d[cpu]!["cpu_usage"]!["usage_in_kernelmode"]!,
                User = (ulong)d[cpu]!["cpu_usage"]!["usage_in_usermode"]!,
            },
        },
        Memory = new MemoryStats
        {
            Usage = new MemoryEntry { Usage = 544768, Max = 4100096, Limit = 9223372036854771712 },
            Raw = d["memory_stats"]!["stats"]!.AsObject().ToDictionary(kv => kv.Key, kv => (ulong)kv.Value!),
        },
        Pids = new PidsStats { Current = 1 },
    }, (ulong)d[cpu]!["system_cpu_usage"]!, (uint)d[cpu]!["online_cpus"]!);

    static ContainerStatsResponse Converted() => ContainerStatsConverter.Convert(
        (string)Dockerd["id"]!, "busy", cgroupV2: false, machineMemory: 25276194816,
        Sample((string)Dockerd["read"]!, "cpu_stats", Dockerd), Sample((string)Dockerd["preread"]!, "precpu_stats", Dockerd));

    static JsonNode Serialize(ContainerStatsResponse stats) => JsonNode.Parse(JsonSerializer.Serialize(stats, ApiJson.Context.ContainerStatsResponse))!;

    [Fact]
    public void TheSameReadingsGiveDockerdsJson_FieldsUnitsAndOmissions()
    {
        // The read times: ours carry the 100 ns of a DateTimeOffset, dockerd's the nanoseconds of Go's clock.
        var ours = Serialize(Converted()).AsObject();
        Assert.Equal("2026-12-06T04:26:21.2882299Z", (string)ours["read"]!);
        Assert.Equal("2026-12-06T04:26:20.2724467Z", (string)ours["preread"]!);
        var theirs = Dockerd.DeepClone().AsObject();
        foreach (var json in new[] { ours, theirs }) { json.Remove("read"); json.Remove("preread"); }
        JsonLeaves.AssertSame(theirs, ours, "stats");
    }

    [Fact]
    public void TheDockerCliShowsCpuAndMemoryFromOurOutput()
    {
        var ours = Serialize(Converted());
        var (cpu, memory, limit) = DockerCliStats(ours);
        Assert.Equal(DockerCliStats(Dockerd), (cpu, memory, limit));
        Assert.InRange(cpu, 20.0, 22.0); // 215465776 ns of 2030000000 ns over 2 CPUs: 21.2 %
        Assert.Equal(544768ul, memory); // no inactive file pages in this sample
        Assert.Equal(25276194816ul, limit); // no limit set: the host's memory, as dockerd shows it
    }

    [Fact]
    public void TheFirstSampleHasZeroPreviousCpuAndTheZeroPrereadTime()
    {
        var first = ContainerStatsConverter.Convert("abc", "/x", false, 1 << 30, Sample((string)Dockerd["read"]!, "cpu_stats", Dockerd), null);
        var json = Serialize(first);
        Assert.Equal("0001-01-01T00:00:00Z", (string)json["preread"]!);
        Assert.Equal("{\"cpu_usage\":{\"total_usage\":0,\"usage_in_kernelmode\":0,\"usage_in_usermode\":0},\"throttling_data\":{\"periods\":0,\"throttled_periods\":0,\"throttled_time\":0}}",
            json["precpu_stats"]!.ToJsonString());
        Assert.Equal("/x", first.Name);
        Assert.Equal(1ul << 30, first.MemoryStats.Limit); // the host's memory is below the cgroup's unlimited value
    }

    [Fact]
    public void CgroupV2HasDockerdsV2Shape_NoPerCpuNoMaxUsage_BlockIoInLowerCase()
    {
        var cgroup = new CgroupStats
        {
            Cpu = new CpuStats { Usage = new CpuUsage { Total = 5_000, User = 3_000, Kernel = 2_000 } },
            Memory = new MemoryStats { Usage = new MemoryEntry { Usage = 8192, Max = 9000, Limit = 1 << 20, Failcnt = 3 }, Raw = new() { ["inactive_file"] = 4096, ["workingset_refault_anon"] = 1 } },
            Pids = new PidsStats { Current = 2, Limit = 100 },
            Blkio = new BlkioStats { IoServiceBytesRecursive = [new BlkioEntry { Major = 8, Minor = 0, Op = "Read", Value = 512 }] },
        };
        var json = Serialize(ContainerStatsConverter.Convert("id", "n", cgroupV2: true, 1ul << 40, new StatsSample(DateTimeOffset.UnixEpoch, cgroup, 10_000, 2), null));
        Assert.Null(json["cpu_stats"]!["cpu_usage"]!["percpu_usage"]);
        Assert.Equal(31, json["memory_stats"]!["stats"]!.AsObject().Count); // containerd's v2 metrics, 0 where the kernel has none
        Assert.Equal(0ul, (ulong)json["memory_stats"]!["stats"]!["workingset_refault"]!);
        Assert.Equal(4096ul, DockerCliStats(json).Memory);
        json["memory_stats"]!.AsObject().Remove("stats");
        Assert.Equal("{\"usage\":8192,\"limit\":1048576}", json["memory_stats"]!.ToJsonString());
        Assert.Equal("{\"current\":2,\"limit\":100}", json["pids_stats"]!.ToJsonString());
        Assert.Equal("[{\"major\":8,\"minor\":0,\"op\":\"read\",\"value\":512}]", json["blkio_stats"]!["io_service_bytes_recursive"]!.ToJsonString());
        Assert.Equal(JsonValueKind.Null, JsonSerializer.SerializeToElement(json["blkio_stats"]!["io_serviced_recursive"]).ValueKind);
    }

    [Fact]
    public void HostFiguresParseAsDockerdReadsThem()
    {
        // The first 7 fields of the cpu line, in USER_HZ ticks: (1559092+450620+559760+3367+1952) × 10 ms.
        Assert.Equal(25747910000000ul, HostCpu.SystemNanos("cpu  1559092 0 450620 559760 3367 0 1952 795 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"));
        Assert.Equal(2u, HostCpu.OnlineCount("0-1\n"));
        Assert.Equal(5u, HostCpu.OnlineCount("0-3,6"));
        Assert.Equal(25276194816ul, HostCpu.MachineMemory("MemTotal:       24683784 kB\nMemFree: 1 kB\n"));
        Assert.Contains("/proc/stat", Assert.Throws<FormatException>(() => HostCpu.SystemNanos("intr 1 2 3\n")).Message);
        Assert.Contains("CPU list", Assert.Throws<FormatException>(() => HostCpu.OnlineCount("3-1")).Message);
    }

    [Fact]
    public void ThisHostsFiguresAreRead()
    {
        var sample = HostCpu.Sample(new CgroupStats());
        Assert.True(sample.SystemCpuNanos > 0);
        Assert.Equal((uint)Environment.ProcessorCount, sample.OnlineCpus);
    }

    /// <summary>What `docker stats` computes (docker/cli's calculateCPUPercentUnix and calculateMemUsageUnixNoCache).</summary>
    internal static (double Cpu, ulong Memory, ulong Limit) DockerCliStats(JsonNode stats)
    {
        ulong U(JsonNode? n) => n is null ? 0 : (ulong)n;
        var cpu = stats["cpu_stats"]!;
        var pre = stats["precpu_stats"]!;
        double cpuDelta = (double)U(cpu["cpu_usage"]!["total_usage"]) - U(pre["cpu_usage"]!["total_usage"]);
        double systemDelta = (double)U(cpu["system_cpu_usage"]) - U(pre["system_cpu_usage"]);
        double online = U(cpu["online_cpus"]);
        if (online == 0) online = cpu["cpu_usage"]!["percpu_usage"]?.AsArray().Count ?? 0;
        double percent = systemDelta > 0 && cpuDelta > 0 ? cpuDelta / systemDelta * online * 100 : 0;
        var memory = stats["memory_stats"]!;
        ulong usage = U(memory["usage"]);
        var raw = memory["stats"];
        ulong inactive = raw?["total_inactive_file"] is { } v1 ? U(v1) : U(raw?["inactive_file"]);
        return (percent, inactive < usage ? usage - inactive : usage, U(memory["limit"]));
    }
}
