using Berth.Cgroups;
using Berth.Oci;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Tests;

/// <summary>
/// linux.resources is checked once, by the converter, before `create` claims the id or makes a cgroup; a bad value
/// is refused with its JSON path. What runc accepts stays accepted.
/// </summary>
public class ResourceConversionTests
{
    static ContainerConfig Convert(LinuxResources resources)
    {
        var spec = DefaultSpec.Create(false);
        spec.Linux!.Resources = resources;
        return ConfigConverter.Convert(spec, "/run/bundles/r1");
    }

    static void Refused(LinuxResources resources, string path)
    {
        var e = Assert.Throws<SpecException>(() => Convert(resources));
        Assert.Contains(e.Errors, x => x.Path == path);
        Assert.Contains(path, e.Message);
    }

    public static TheoryData<string, string> BadValues => new()
    {
        { """{"memory":{"limit":-2}}""", "$.linux.resources.memory.limit" },
        { """{"memory":{"limit":1048576,"swap":524288}}""", "$.linux.resources.memory.swap" },
        { """{"memory":{"swap":-5}}""", "$.linux.resources.memory.swap" },
        { """{"memory":{"swap":1048576}}""", "$.linux.resources.memory.swap" },
        { """{"memory":{"reservation":-7}}""", "$.linux.resources.memory.reservation" },
        { """{"memory":{"swappiness":101}}""", "$.linux.resources.memory.swappiness" },
        { """{"cpu":{"shares":1}}""", "$.linux.resources.cpu.shares" },
        { """{"cpu":{"shares":262145}}""", "$.linux.resources.cpu.shares" },
        { """{"cpu":{"quota":500}}""", "$.linux.resources.cpu.quota" },
        { """{"cpu":{"period":999}}""", "$.linux.resources.cpu.period" },
        { """{"cpu":{"period":1000001}}""", "$.linux.resources.cpu.period" },
        { """{"cpu":{"realtimePeriod":1000,"realtimeRuntime":2000}}""", "$.linux.resources.cpu.realtimeRuntime" },
        { """{"cpu":{"realtimeRuntime":-2}}""", "$.linux.resources.cpu.realtimeRuntime" },
        { """{"cpu":{"cpus":"0-"}}""", "$.linux.resources.cpu.cpus" },
        { """{"cpu":{"cpus":"3-1"}}""", "$.linux.resources.cpu.cpus" },
        { """{"cpu":{"mems":"zero"}}""", "$.linux.resources.cpu.mems" },
        { """{"blockIO":{"weight":5}}""", "$.linux.resources.blockIO.weight" },
        { """{"blockIO":{"leafWeight":1001}}""", "$.linux.resources.blockIO.leafWeight" },
        { """{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":2000}]}}""", "$.linux.resources.blockIO.weightDevice[0].weight" },
        { """{"hugepageLimits":[{"pageSize":"2XB","limit":0}]}""", "$.linux.resources.hugepageLimits[0].pageSize" },
        { """{"unified":{"../memory.max":"1"}}""", "$.linux.resources.unified[\"../memory.max\"]" },
        { """{"unified":{"cgroup.procs":"1"}}""", "$.linux.resources.unified[\"cgroup.procs\"]" },
        { """{"devices":[{"allow":true,"type":"c","major":-3,"access":"rwm"}]}""", "$.linux.resources.devices[0].major" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void BadValueIsRefusedByTheConverterWithItsPath(string json, string path) =>
        Refused(Parse(json), path);

    [Fact]
    public void EveryBadValueIsListed()
    {
        var e = Assert.Throws<SpecException>(() => Convert(Parse("""{"memory":{"limit":-2},"cpu":{"shares":1,"quota":10}}""")));
        Assert.Equal(["$.linux.resources.cpu.quota", "$.linux.resources.cpu.shares", "$.linux.resources.memory.limit"],
            e.Errors.Select(x => x.Path).Order(StringComparer.Ordinal));
    }

    public static TheoryData<string> AcceptedValues => new()
    {
        """{"memory":{"kernel":1048576,"kernelTCP":1048576}}""",  // ignored with a warning, as by runc
        """{"memory":{"limit":-1}}""",
        """{"memory":{"limit":1048576,"swap":-1}}""",
        """{"memory":{"limit":1048576,"swap":1048576,"reservation":524288,"swappiness":0}}""",
        """{"cpu":{"quota":50000}}""",                           // the kernel's current period stays
        """{"cpu":{"quota":-1,"period":100000}}""",
        """{"cpu":{"shares":0,"period":0,"quota":0}}""",          // 0 is unset, as in runc
        """{"cpu":{"cpus":"0-1,3","mems":"0"}}""",
        """{"cpu":{"cpus":"0-7:2/4"}}""",                        // the kernel's stride form
        """{"cpu":{"realtimePeriod":1000000,"realtimeRuntime":950000}}""",
        """{"cpu":{"realtimeRuntime":-1}}""",
        """{"pids":{"limit":-1}}""",
        """{"blockIO":{"weight":0,"weightDevice":[{"major":8,"minor":0,"weight":0}]}}""",
        """{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}""",
        """{"unified":{"memory.high":"max"}}""",
    };

    [Theory]
    [MemberData(nameof(AcceptedValues))]
    public void WhatRuncAcceptsIsAccepted(string json)
    {
        var c = Convert(Parse(json));
        Assert.NotNull(c.Resources);
    }

    [Fact]
    public void TheConfigCarriesCheckedResourcesWithTheDefaultDeviceRules()
    {
        var c = Convert(new LinuxResources { Pids = new LinuxPids { Limit = 64 } });
        Assert.IsType<CheckedResources>(c.Resources);
        Assert.Equal(64, c.Resources!.Spec.Pids!.Limit);
        // The spec's rules first, then the devices every container needs (/dev/null is c 1:3).
        Assert.Contains(c.Resources.Spec.Devices!, d => d is { Allow: true, Type: "c", Major: 1, Minor: 3 });
    }

    [Fact]
    public void UpdateGoesThroughTheSameChecks()
    {
        var e = Assert.Throws<CgroupException>(() => CheckedResources.ForUpdate(Parse("""{"cpu":{"period":10}}""")));
        Assert.Contains("linux.resources.cpu.period", e.Message);
        // An update may give swap alone: it is compared with the container's current limit by the kernel.
        Assert.Equal(2097152, CheckedResources.ForUpdate(Parse("""{"memory":{"swap":2097152}}""")).Spec.Memory!.Swap);
    }

    static LinuxResources Parse(string json) =>
        System.Text.Json.JsonSerializer.Deserialize(json, OciJsonContext.Default.LinuxResources)!;
}
