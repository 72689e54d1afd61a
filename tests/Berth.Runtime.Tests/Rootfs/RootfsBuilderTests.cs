using Berth.Runtime.Rootfs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Tests.Rootfs;

public sealed class RootfsBuilderTests
{
    [Fact]
    public void LockableFlagsKeepTheSecurityFlagsAndTheAtimeMode()
    {
        long st = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME;
        Assert.Equal(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME, RootfsBuilder.LockableFlags(st, 0));
        Assert.Equal(MS_NOSUID | MS_NOATIME, RootfsBuilder.LockableFlags(ST_NOSUID | ST_NOATIME, MS_RDONLY));
        Assert.Equal(MS_STRICTATIME, RootfsBuilder.LockableFlags(0, 0));
        // The spec chose an atime mode: none is added from statfs.
        Assert.Equal(MS_NODEV, RootfsBuilder.LockableFlags(ST_NODEV | ST_RELATIME, MS_NOATIME));
    }

    [Fact]
    public void DevicesNumbersRoundTrip()
    {
        ulong dev = makedev(1, 3);
        Assert.Equal(0x103UL, dev);
        Assert.Equal((1u, 3u), (major(dev), minor(dev)));
        ulong big = makedev(4097, 300);
        Assert.Equal((4097u, 300u), (major(big), minor(big)));
    }

    [Theory]
    [InlineData(0x41C0u, "", "mode=0700")]                       // S_IFDIR | 0700
    [InlineData(0x43E8u, "size=1m", "mode=1750,size=1m")]        // S_IFDIR | 01750: the sticky bit too
    [InlineData(0x41EDu, "mode=700", "mode=0755,mode=700")]      // the options' own mode comes last and wins
    public void ATmpfsOverADirectoryStartsWithItsMode(uint mode, string data, string expected) =>
        Assert.Equal(expected, RootfsBuilder.TmpfsData(mode, data));

    static readonly string[] Mountinfo =
    [
        "26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        "30 26 0:27 / /var/lib rw,relatime master:4 - tmpfs tmpfs rw",
        "31 30 0:28 / /var/lib/with\\040space rw,relatime shared:7 master:2 - tmpfs tmpfs rw",
        "32 26 0:29 / /var/libx rw,relatime shared:9 - tmpfs tmpfs rw",
    ];

    [Theory]
    [InlineData("/var/lib/containers/x/rootfs", "/var/lib", false)]
    [InlineData("/var/lib/with space/rootfs", "/var/lib/with space", true)]
    [InlineData("/var/libx/rootfs", "/var/libx", true)]
    [InlineData("/srv/rootfs", "/", true)]
    public void ParentMountIsTheLongestMountPointPrefix(string path, string mountPoint, bool shared) =>
        Assert.Equal((mountPoint, shared), RootfsBuilder.ParentMount(path, Mountinfo));
}
