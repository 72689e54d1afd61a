// Temporary until the rootfs branch lands.
using Berth.Runtime.Configs;
namespace Berth.Runtime.Rootfs;
public sealed record CgroupMountSource(string Name, string HostPath, bool IsV2, string MountOptions);
public sealed record RootfsOptions(bool NoPivot, IReadOnlyList<CgroupMountSource> Cgroups, bool CgroupNamespace);
public sealed class RootfsBuilder(ContainerConfig config, RootfsOptions options)
{
    public void Prepare() { _ = config; _ = options; throw new NotImplementedException(); }
    public void EnterRoot() => throw new NotImplementedException();
    public void Finish() => throw new NotImplementedException();
}
