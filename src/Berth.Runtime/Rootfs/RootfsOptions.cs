namespace Berth.Runtime.Rootfs;

/// <summary>
/// One cgroup hierarchy to show at a "cgroup" spec mount. Name is the directory under the mount ("cpu",
/// "systemd" for name=systemd, "unified" for the hybrid cgroup2 tree; "" on a pure v2 host), HostPath the
/// container's cgroup directory on the host (bound when there is no cgroup namespace), MountOptions the v1
/// controller list given to a fresh "cgroup" mount inside a cgroup namespace.
/// </summary>
public sealed record CgroupMountSource(string Name, string HostPath, bool IsV2, string MountOptions);

/// <summary>
/// What the rootfs setup needs to know beyond the config: how to enter the root, the cgroup layout, and per spec
/// mount the fd of its bind source's tree when the runtime opened one (-1 or missing: bind by path).
/// </summary>
public sealed record RootfsOptions(bool NoPivot, IReadOnlyList<CgroupMountSource> Cgroups, bool CgroupNamespace,
    IReadOnlyList<int>? BindSourceFds = null);
