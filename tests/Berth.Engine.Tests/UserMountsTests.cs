using System.Text.Json;
using Berth.Api;

namespace Berth.Engine.Tests;

/// <summary>
/// HostConfig.Binds and HostConfig.Mounts as dockerd 20.10 parses them (BindMountComparisonTests holds the same against a
/// real dockerd; these run without one): the spec's options, inspect's entries, tmpfs data, and the refusals.
/// </summary>
public class UserMountsTests
{
    const string VolumesRoot = "/var/lib/berth/volumes";

    static List<UserMount> Parse(HostConfig host, bool exists = true) => UserMounts.Parse(host, _ => exists, VolumesRoot);

    static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Theory]
    [InlineData("/h:/data", "rbind,rprivate", "", true, "rprivate")]
    [InlineData("/h:/data:ro", "rbind,ro,rprivate", "ro", false, "rprivate")]
    [InlineData("/h:/data:z,ro", "rbind,ro,rprivate", "z,ro", false, "rprivate")]
    [InlineData("/h/./x/:/data/../d/", "rbind,rprivate", "", true, "rprivate")]
    [InlineData("/h:/data:rw,private,cached", "rbind,private", "rw,private,cached", true, "private")]
    public void A_bind_of_v_mounts_as_dockerd_writes_it(string bind, string options, string mode, bool rw, string propagation)
    {
        var m = Assert.Single(Parse(new HostConfig { Binds = [bind] }));
        var spec = m.ToSpec();
        Assert.Equal("bind", spec.Type);
        Assert.Equal(options, string.Join(',', spec.Options!));
        var point = m.ToMountPoint();
        Assert.Equal((mode, rw, propagation), (point.Mode, point.RW, point.Propagation));
        Assert.True(m.CreateSource, "-v makes a missing source");
        Assert.DoesNotContain("/.", spec.Source + spec.Destination);
    }

    [Theory]
    [InlineData("{\"SizeBytes\":1048576,\"Mode\":448}", false, "noexec,nosuid,nodev,rprivate,mode=700,size=1m")]
    [InlineData("{\"SizeBytes\":1536}", false, "noexec,nosuid,nodev,rprivate,size=1536")]
    [InlineData("{\"SizeBytes\":3221225472}", true, "noexec,nosuid,nodev,rprivate,ro,size=3g")]
    [InlineData("{\"SizeBytes\":2048}", false, "noexec,nosuid,nodev,rprivate,size=2k")]
    public void A_tmpfs_mount_gets_dockerds_data(string options, bool readOnly, string expected)
    {
        var m = Assert.Single(Parse(new HostConfig { Mounts = [new MountSpec { Type = "tmpfs", Target = "/t", ReadOnly = readOnly, TmpfsOptions = Json(options) }] }));
        Assert.Equal(expected, string.Join(',', m.ToSpec().Options!));
        var point = m.ToMountPoint();
        Assert.Equal(("tmpfs", "", !readOnly, ""), (point.Type, point.Source, point.RW, point.Propagation));
    }

    [Fact]
    public void A_non_recursive_read_only_mount_bind_is_a_plain_bind()
    {
        var m = Assert.Single(Parse(new HostConfig { Mounts = [new MountSpec { Type = "bind", Source = "/h", Target = "/m", ReadOnly = true, BindOptions = Json("{\"NonRecursive\":true}") }] }));
        Assert.Equal("bind,ro,rprivate", string.Join(',', m.ToSpec().Options!));
        Assert.Equal("", m.ToMountPoint().Mode);
        Assert.False(m.CreateSource, "--mount never makes its source");
    }

    [Theory]
    [InlineData("/h:/data:bogus", "invalid mode: bogus")]
    [InlineData("/h:/data:ro,rw", "invalid mode: ro,rw")]
    [InlineData("/h:rw", "invalid volume specification: '/h:rw'")]
    [InlineData("/h::/data", "invalid volume specification: '/h::/data'")]
    [InlineData("/h:/data:nocopy", "invalid volume specification: '/h:/data:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified")]
    [InlineData("/h:rel", "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute")]
    [InlineData("/h:/", "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'")]
    public void A_bad_bind_is_refused_with_dockerds_sentence(string bind, string message)
    {
        var e = Assert.Throws<ContainerConfigException>(() => Parse(new HostConfig { Binds = [bind] }));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_missing_mount_bind_source_and_a_duplicate_destination_are_refused()
    {
        var missing = Assert.Throws<ContainerConfigException>(() =>
            Parse(new HostConfig { Mounts = [new MountSpec { Type = "bind", Source = "/nowhere", Target = "/m" }] }, exists: false));
        Assert.Equal("invalid mount config for type \"bind\": bind source path does not exist: /nowhere", missing.Message);
        var duplicate = Assert.Throws<ContainerConfigException>(() =>
            Parse(new HostConfig { Binds = ["/a:/d/"], Tmpfs = new() { ["/d"] = "" } }));
        Assert.Equal("Duplicate mount point: /d", duplicate.Message);
    }

    [Theory]
    [InlineData("/h:/data:rshared", "private propagation only")]
    [InlineData("/h:/data:slave", "private propagation only")]
    public void What_Berth_does_not_do_yet_is_refused_naming_the_field(string bind, string says)
    {
        var e = Assert.Throws<ContainerConfigException>(() => Parse(new HostConfig { Binds = [bind] }));
        Assert.StartsWith("HostConfig.Binds is not supported yet: ", e.Message);
        Assert.Contains(says, e.Message);
    }

    [Theory]
    [InlineData("vol:/data", "rbind", "z", true, false)]
    [InlineData("vol:/data:ro", "rbind,ro", "ro", false, false)]
    [InlineData("vol:/data:nocopy", "rbind", "nocopy", true, true)]
    public void A_named_volume_binds_its_data_directory(string bind, string options, string mode, bool rw, bool noCopy)
    {
        var m = Assert.Single(Parse(new HostConfig { Binds = [bind] }));
        var spec = m.ToSpec();
        Assert.Equal(("bind", VolumesRoot + "/vol/_data", options), (spec.Type, spec.Source, string.Join(',', spec.Options!)));
        var point = m.ToMountPoint();
        Assert.Equal(("volume", "vol", "local", mode, rw, ""), (point.Type, point.Name, point.Driver, point.Mode, point.RW, point.Propagation));
        Assert.Equal(("vol", noCopy), (m.VolumeName, m.NoCopy));
        Assert.Equal(["vol"], UserMounts.VolumeNames(new HostConfig { Binds = [bind] }));
    }

    [Theory]
    [InlineData("a:/data", "create a: volume name is too short, names should be at least two alphanumeric characters")]
    [InlineData("x!:/data", "create x!: \"x!\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    [InlineData("vol:/data:rprivate", "invalid volume specification: 'vol:/data:rprivate': invalid mount config for type \"volume\": field BindOptions must not be specified")]
    public void A_bad_volume_is_refused_with_dockerds_sentence(string bind, string message) =>
        Assert.Equal(message, Assert.Throws<ContainerConfigException>(() => Parse(new HostConfig { Binds = [bind] })).Message);

    [Fact]
    public void An_anonymous_volume_of_v_mount_and_config_volumes_binds_the_data_of_the_name_the_create_gave_it()
    {
        var host = new HostConfig
        {
            Binds = ["/a/", "/h:/bound"],
            Mounts = [new MountSpec { Type = "volume", Target = "/m", VolumeOptions = Json("{\"NoCopy\":true}") }],
            Tmpfs = new() { ["/t"] = "" },
        };
        // Config.Volumes paths already mounted (a bind, the -v volume, a tmpfs) get no volume of their own.
        Assert.Equal(["/a", "/m", "/c"], UserMounts.AnonymousDestinations(host, ["/bound", "/a", "/t/", "/c/"]));
        string a = new('a', 64), m = new('b', 64), c = new('c', 64);
        var mounts = UserMounts.Parse(host, _ => true, VolumesRoot, new Dictionary<string, string> { ["/a"] = a, ["/m"] = m, ["/c"] = c });
        Assert.Equal(["/a", "/bound", "/c", "/m"], mounts.Select(x => x.Destination));
        var points = mounts.Where(x => x.Anonymous).Select(x => x.ToMountPoint()).ToList();
        Assert.Equal([(a, "z"), (c, ""), (m, "z")], points.Select(p => (p.Name!, p.Mode)));
        Assert.All(points, p => Assert.Equal(("volume", VolumesRoot + "/" + p.Name + "/_data", "local", true, ""), (p.Type, p.Source, p.Driver, p.RW, p.Propagation)));
        Assert.Equal(VolumesRoot + "/" + c + "/_data", mounts.Single(x => x.Destination == "/c").ToSpec().Source);
        Assert.Equal("rbind", string.Join(',', mounts.Single(x => x.Destination == "/c").ToSpec().Options!));
        Assert.True(mounts.Single(x => x.Destination == "/m").NoCopy);
        Assert.Equal([a, m, c], UserMounts.VolumeNames(host, new Dictionary<string, string> { ["/a"] = a, ["/m"] = m, ["/c"] = c }).Order());
    }

    [Fact]
    public void A_read_only_anonymous_mount_volume_is_refused_with_dockerds_sentence() =>
        Assert.Equal("invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes",
            Assert.Throws<ContainerConfigException>(() => Parse(new HostConfig { Mounts = [new MountSpec { Type = "volume", Target = "/m", ReadOnly = true }] })).Message);

    [Fact]
    public void Mount_points_are_sorted_by_destination_and_a_record_that_no_longer_parses_has_none()
    {
        var points = UserMounts.MountPoints(new HostConfig { Binds = ["/b:/z", "/a:/a"] }, VolumesRoot, null);
        Assert.Equal(["/a", "/z"], points.Select(p => p.Destination));
        Assert.Empty(UserMounts.MountPoints(new HostConfig { Binds = ["/a:/a:bogus"] }, VolumesRoot, null));
    }
}
