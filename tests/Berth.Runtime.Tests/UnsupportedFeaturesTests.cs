using Berth.Oci;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Tests;

public class UnsupportedFeaturesTests
{
    [Fact]
    public void TheDefaultSpecNeedsNothingUnsupported()
    {
        var spec = DefaultSpec.Create(rootless: false);
        Assert.True(spec.Process!.Terminal); // runc spec's default: terminals are supported now
        Assert.Empty(UnsupportedFeatures.Find(spec));
    }

    [Fact]
    public void EveryUnsupportedFieldIsNamedByItsJsonPath()
    {
        var spec = DefaultSpec.Create(rootless: false);
        spec.Process!.Scheduler = new Scheduler { Policy = "SCHED_OTHER" };
        spec.Process.ApparmorProfile = "docker-default";
        spec.Linux!.IntelRdt = new LinuxIntelRdt { ClosID = "x" };
        spec.Mounts![1].UidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = 1000, Size = 1 }];

        var found = UnsupportedFeatures.Find(spec);

        Assert.DoesNotContain(found, f => f.StartsWith("$.process.terminal:"));
        Assert.Contains(found, f => f.StartsWith("$.process.scheduler:"));
        Assert.Contains(found, f => f.StartsWith("$.process.apparmorProfile:"));
        Assert.Contains(found, f => f.StartsWith("$.linux.intelRdt:"));
        Assert.Contains(found, f => f.StartsWith("$.mounts[1]:"));
        Assert.Equal(4, found.Count);
    }

    [Fact]
    public void HooksAndSeccompAreSupported()
    {
        var spec = DefaultSpec.Create(rootless: false);
        spec.Process!.Terminal = false;
        spec.Hooks = new Hooks { Prestart = [new Hook { Path = "/bin/true" }], Poststop = [] };
        spec.Linux!.Seccomp = new LinuxSeccomp { DefaultAction = "SCMP_ACT_ALLOW" };
        Assert.Empty(UnsupportedFeatures.Find(spec));
    }
}
