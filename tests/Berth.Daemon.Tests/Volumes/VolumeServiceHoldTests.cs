using Berth.Api;
using Berth.Daemon.Api;
using Berth.Daemon.Volumes;

namespace Berth.Daemon.Tests.Volumes;

/// <summary>A volume made for a container being created counts as used until its record is saved: a prune or rm in
/// between leaves it (no container names it yet, so without the hold both would delete it).</summary>
public sealed class VolumeServiceHoldTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("berth-volhold-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_held_volume_is_neither_pruned_nor_removed_until_released()
    {
        var volumes = new VolumeService(_root, () => []);
        string name = VolumeService.NewName();
        volumes.Ensure(name, holder: "c1");
        Assert.Null(volumes.Prune(ApiFilters.FromPairs([])).VolumesDeleted);
        Assert.Equal(409, Assert.Throws<ApiException>(() => volumes.Remove(name, force: false)).StatusCode);
        volumes.Release("c1");
        Assert.Equal([name], volumes.Prune(ApiFilters.FromPairs([])).VolumesDeleted);
        Assert.False(Directory.Exists(Path.Combine(_root, "volumes", name)));
    }
}
