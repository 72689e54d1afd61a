namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// Tests that change a subtree_control of the host's cgroup2 hierarchy and restore it afterwards: they run one at a
/// time and alongside no other test, so that one's restore cannot take a controller away from another's container.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostCgroup2Collection
{
    public const string Name = "host cgroup2 subtree_control";
}
