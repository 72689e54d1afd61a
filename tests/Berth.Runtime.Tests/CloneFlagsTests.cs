using Berth.Runtime.Configs;

namespace Berth.Runtime.Tests;

public class CloneFlagsTests
{
    const int NewNs = 0x00020000, NewCgroup = 0x02000000, NewUts = 0x04000000, NewIpc = 0x08000000,
        NewUser = 0x10000000, NewPid = 0x20000000, NewNet = 0x40000000, NewTime = 0x80;

    static NamespaceConfig New(NamespaceKind k) => new(k, null);
    static NamespaceConfig Join(NamespaceKind k, string path = "/proc/1/ns/x") => new(k, path);

    [Fact]
    public void AllNewNamespacesAreCreatedByCloneExceptCgroupAndTime()
    {
        var plan = CloneFlags.For([New(NamespaceKind.Pid), New(NamespaceKind.Network), New(NamespaceKind.Ipc),
            New(NamespaceKind.Uts), New(NamespaceKind.Mount), New(NamespaceKind.Cgroup), New(NamespaceKind.User), New(NamespaceKind.Time)]);
        Assert.Equal(NewPid | NewNet | NewIpc | NewUts | NewNs | NewUser, plan.AtClone);
        Assert.Equal(NewTime, plan.Unshare);
        Assert.True(plan.UnshareCgroup);
        Assert.False(plan.ForkAfter); // clone put the child itself into the new PID namespace
        Assert.True(plan.NewUserNamespace);
        Assert.True(plan.NewTimeNamespace);
        Assert.Empty(plan.Joins);
    }

    [Fact]
    public void RuncDefaultNamespacesNeedNoUnshareAndNoFork()
    {
        var plan = CloneFlags.For([New(NamespaceKind.Pid), New(NamespaceKind.Network), New(NamespaceKind.Ipc), New(NamespaceKind.Uts), New(NamespaceKind.Mount)]);
        Assert.Equal(NewPid | NewNet | NewIpc | NewUts | NewNs, plan.AtClone);
        Assert.Equal(0, plan.Unshare);
        Assert.False(plan.UnshareCgroup);
        Assert.False(plan.ForkAfter);
        Assert.False(plan.NewUserNamespace);
    }

    [Fact]
    public void WithAJoinEverythingNewIsUnsharedAfterTheJoinsSoItIsOwnedByTheRightUserNamespace()
    {
        var plan = CloneFlags.For([New(NamespaceKind.User), Join(NamespaceKind.Network), New(NamespaceKind.Mount), New(NamespaceKind.Pid)]);
        Assert.Equal(0, plan.AtClone);
        Assert.Equal(NewUser | NewNs | NewPid, plan.Unshare);
        Assert.True(plan.ForkAfter); // unshare(CLONE_NEWPID) applies to children only
        Assert.Single(plan.Joins);
    }

    [Fact]
    public void AJoinedUserNamespaceIsJoinedFirst()
    {
        var plan = CloneFlags.For([Join(NamespaceKind.Network, "/n"), Join(NamespaceKind.Mount, "/m"), Join(NamespaceKind.User, "/u")]);
        Assert.Equal(["/u", "/n", "/m"], plan.Joins.Select(j => j.Path!));
        Assert.False(plan.NewUserNamespace);
        // Its root may be another host uid than ours: init switches to it, or it would exec without capabilities.
        Assert.True(plan.BecomeRoot);
    }

    [Fact]
    public void OnlyAUserNamespaceMakesTheChildBecomeRoot()
    {
        Assert.True(CloneFlags.For([New(NamespaceKind.User), New(NamespaceKind.Mount)]).BecomeRoot);
        Assert.False(CloneFlags.For([New(NamespaceKind.Mount), Join(NamespaceKind.Network)]).BecomeRoot);
    }

    [Fact]
    public void AJoinedPidNamespaceNeedsAForkSoInitIsInsideIt()
    {
        var plan = CloneFlags.For([Join(NamespaceKind.Pid), New(NamespaceKind.Mount)]);
        Assert.True(plan.ForkAfter);
        Assert.Equal(NewNs, plan.Unshare);
        Assert.Equal(0, plan.AtClone);
    }

    [Fact]
    public void NoNamespacesMeansAPlainChild()
    {
        var plan = CloneFlags.For([]);
        Assert.Equal(0, plan.AtClone);
        Assert.Equal(0, plan.Unshare);
        Assert.False(plan.ForkAfter);
        Assert.False(plan.UnshareCgroup);
    }

    [Theory]
    [InlineData(NamespaceKind.Mount, 0x00020000, "mnt")]
    [InlineData(NamespaceKind.Network, 0x40000000, "net")]
    [InlineData(NamespaceKind.Time, 0x80, "time")]
    [InlineData(NamespaceKind.Cgroup, 0x02000000, "cgroup")]
    public void NamespaceFlagsAndProcNamesMatchTheKernel(NamespaceKind kind, int flag, string procName)
    {
        var ns = New(kind);
        Assert.Equal(flag, ns.CloneFlag);
        Assert.Equal(procName, ns.ProcName);
    }
}
