using static Berth.Engine.Tests.TestEnvironment;

namespace Berth.Engine.Tests;

/// <summary>Config.User and GroupAdd in the image's passwd and group (busybox's of the captures: root, app, nobody; wheel, extra).</summary>
public class ExecUserTests
{
    static ExecUser Resolve(string user, params string[] groupAdd) => ExecUserResolver.Resolve(user, groupAdd, BusyboxUsers);

    [Theory]
    [InlineData("", 0u, 0u, new uint[] { 0, 10 })]               // root, and wheel lists root
    [InlineData("root", 0u, 0u, new uint[] { 0, 10 })]
    [InlineData("app", 1000u, 1000u, new uint[] { 1000, 2000 })] // extra lists app
    [InlineData("1000", 1000u, 1000u, new uint[] { 1000, 2000 })]
    [InlineData("app:extra", 1000u, 2000u, new uint[] { 2000 })]  // an explicit group: no memberships
    [InlineData("1000:1000", 1000u, 1000u, new uint[] { 1000 })]
    [InlineData("4242:4343", 4242u, 4343u, new uint[] { 4343 })]  // numbers without entries are taken as they are
    [InlineData("4242", 4242u, 0u, new uint[] { 0 })]
    [InlineData("nobody", 65534u, 65534u, new uint[] { 65534 })]
    public void Resolves_like_dockerd(string user, uint uid, uint gid, uint[] additional)
    {
        var resolved = Resolve(user);
        Assert.Equal((uid, gid), (resolved.Uid, resolved.Gid));
        Assert.Equal(additional, resolved.AdditionalGids);
    }

    [Fact]
    public void Group_add_comes_last_by_name_or_number_once_each()
    {
        Assert.Equal([1000u, 2000u, 10u, 5u], Resolve("app", "wheel", "5", "10", "wheel").AdditionalGids);
    }

    [Fact]
    public void Names_without_entries_are_refused()
    {
        Assert.Equal("unable to find user nosuch: no matching entries in passwd file",
            Assert.Throws<ContainerConfigException>(() => Resolve("nosuch")).Message);
        Assert.Equal("unable to find group nosuch: no matching entries in group file",
            Assert.Throws<ContainerConfigException>(() => Resolve("app:nosuch")).Message);
        Assert.Equal("Unable to find group nosuch: no matching entries in group file",
            Assert.Throws<ContainerConfigException>(() => Resolve("", "nosuch")).Message);
        Assert.StartsWith("uids and gids must be in range 0-2147483647",
            Assert.Throws<ContainerConfigException>(() => Resolve("4294967296")).Message);
    }

    [Fact]
    public void An_image_without_passwd_runs_numeric_users_only()
    {
        var none = new FixedUsers(null, null);
        Assert.Equal([0u], ExecUserResolver.Resolve("", null, none).AdditionalGids);
        var numeric = ExecUserResolver.Resolve("5:6", null, none);
        Assert.Equal((5u, 6u), (numeric.Uid, numeric.Gid));
        Assert.Throws<ContainerConfigException>(() => ExecUserResolver.Resolve("app", null, none));
    }

    [Fact]
    public void Comments_blank_and_short_lines_are_skipped()
    {
        var users = new FixedUsers("# comment\n\nbroken\nweb:x:33:33::/var/www:/bin/sh\n", "#\nwww:x:33:web\nops:x:50:root,web\n");
        var web = ExecUserResolver.Resolve("web", null, users);
        Assert.Equal((33u, 33u), (web.Uid, web.Gid));
        Assert.Equal([33u, 33u, 50u], web.AdditionalGids);
    }
}
