using Berth.Oci;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Tests;

public class HostMountNamespaceTests
{
    static Spec WithoutMountNamespace(Action<Spec> change)
    {
        var spec = DefaultSpec.Create(rootless: false);
        spec.Linux!.Namespaces = [.. spec.Linux.Namespaces!.Where(n => n.Type != "mount")];
        // The spec's validation refuses these itself, as runc does.
        spec.Linux.MaskedPaths = null;
        spec.Linux.ReadonlyPaths = null;
        change(spec);
        return spec;
    }

    static IReadOnlyList<string> Refusals(Spec spec) => HostMountNamespace.Refusals(spec, ConfigConverter.Convert(spec, "/tmp/bundle"));

    [Fact]
    public void WithAMountNamespace_NothingIsRefused() =>
        Assert.Empty(Refusals(DefaultSpec.Create(rootless: false)));

    [Fact]
    public void WithoutOne_WhatWouldMountIsRefused_EachByItsField()
    {
        var spec = WithoutMountNamespace(s =>
        {
            s.Root!.Readonly = true;
            s.Linux!.RootfsPropagation = "rslave";
            s.Linux.Devices = [new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229 }];
        });

        var found = Refusals(spec);

        foreach (var field in new[] { "$.mounts", "$.root.readonly", "$.linux.devices", "$.linux.rootfsPropagation", "$.process.terminal" })
            Assert.Contains(found, f => f.StartsWith(field + ":", StringComparison.Ordinal));
        var e = Assert.Throws<ContainerException>(() => HostMountNamespace.Check(spec, ConfigConverter.Convert(spec, "/tmp/bundle")));
        Assert.Contains("no mount namespace", e.Message);
    }

    [Fact]
    public void WithoutOne_AConfigThatMountsNothingRuns() =>
        Assert.Empty(Refusals(WithoutMountNamespace(s =>
        {
            s.Mounts = [];
            s.Root!.Readonly = false;
            s.Process!.Terminal = false;
        })));
}
