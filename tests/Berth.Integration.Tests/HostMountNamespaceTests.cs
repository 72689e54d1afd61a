using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// A config without a mount namespace: the container shares the host's mount table. runc 1.1.5 runs it chrooted
/// into root.path, but first sets the propagation of the host's "/", binds the rootfs on itself and makes every spec
/// mount in the host's mount table, where they all stay after the container is gone (seen here: 18 mounts left under
/// the bundle by its default mounts); without a /proc mount it fails ("error closing exec fds: open /proc/self/fd"),
/// leaving the rootfs's bind behind. berth-runtime runs it chrooted, mounts nothing, and refuses what needs a mount.
/// </summary>
public sealed class HostMountNamespaceTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>The default spec without a mount namespace and without what only a mount namespace can give.</summary>
    static JsonObject WithoutMountNamespace(JsonObject spec)
    {
        spec.WithoutNamespace("mount");
        spec["mounts"] = new JsonArray();
        // runc refuses these itself: "unable to restrict sys entries without a private MNT namespace".
        spec.Linux().Remove("maskedPaths");
        spec.Linux().Remove("readonlyPaths");
        spec["root"]!["readonly"] = false;
        return spec;
    }

    /// <summary>The host's mountinfo lines of "/": a propagation change or a mount over it shows here.</summary>
    static string HostRootMounts() =>
        string.Join("\n", File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4] == "/"));

    string[] HostMountsOfTheBundle() =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(WorkDirectory, StringComparison.Ordinal)).ToArray();

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 needs /proc mounted, and leaves the rootfs's self-bind on the host
    public void WithoutAMountNamespace_TheProcessIsChrootedInTheRootfs_AndTheHostsMountTableIsUnchanged()
    {
        string rootBefore = HostRootMounts();
        File.WriteAllText(Bundle.InRootfs("/bt-marker"), "inside-the-rootfs");
        Bundle.WriteConfig(WithoutMountNamespace(Specs.Default("sh", "-c", "cat /bt-marker > /tmp/seen; exec sleep 1000")));

        var run = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);

        Assert.True(run.Succeeded, "run -d failed: " + run);
        int pid = Pid();
        Assert.Equal(HostReadLink("/proc/self/ns/mnt"), HostReadLink($"/proc/{pid}/ns/mnt"));
        Assert.Equal(Bundle.Rootfs, HostReadLink($"/proc/{pid}/root"));
        Eventually(() => File.Exists(Bundle.InRootfs("/tmp/seen")), "the container to copy its marker");
        Eventually(() => File.ReadAllText(Bundle.InRootfs("/tmp/seen")) == "inside-the-rootfs", "the marker's content");
        Assert.Empty(HostMountsOfTheBundle());
        Assert.Equal(rootBefore, HostRootMounts());

        Assert.True(Runtime.Run("delete", "--force", Id).Succeeded);
        Assert.Empty(HostMountsOfTheBundle());
        Assert.Equal(rootBefore, HostRootMounts());
        Leaks.AssertClean();
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 makes the mounts in the host's mount table and leaves them there
    public void WithoutAMountNamespace_MountsAndAReadOnlyRoot_AreRefused_NamingThem()
    {
        var spec = WithoutMountNamespace(Specs.Default("true"));
        spec["mounts"] = new JsonArray(Specs.Mount("/proc", "proc", "proc"));
        spec["root"]!["readonly"] = true;

        var create = Create(spec);

        Assert.False(create.Succeeded, "create without a mount namespace but with mounts succeeded: " + create);
        Assert.Contains("mount namespace", create.Stderr);
        Assert.Contains("mounts", create.Stderr);
        Assert.Contains("root.readonly", create.Stderr);
        Assert.False(State().Succeeded, "the container exists after its create failed");
        Assert.Empty(HostMountsOfTheBundle());
        Leaks.AssertClean();
    }
}
