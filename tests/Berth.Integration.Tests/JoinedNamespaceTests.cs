using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>Namespaces joined by path (linux.namespaces[].path) from helper processes started with unshare(1).</summary>
public sealed class JoinedNamespaceTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>
    /// Starts <c>unshare --pid --fork --mount-proc sleep 1000</c>; returns the inner process's host pid, whose
    /// /proc/PID/ns/pid is the new PID namespace (unshare itself stays in the host's).
    /// </summary>
    private int StartPidNamespaceHolder()
    {
        var holder = StartHelper("unshare", "--pid", "--fork", "--mount-proc", "sleep", "1000");
        var hostPidNs = HostReadLink("/proc/self/ns/pid");
        var inner = 0;
        Eventually(() =>
        {
            // Not a recursive search: /proc/PID/task/TID/root links to the whole filesystem.
            inner = Directory.EnumerateDirectories($"/proc/{holder.Id}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(int.Parse).FirstOrDefault();
            return inner > 0 && HostReadLink($"/proc/{inner}/ns/pid") != hostPidNs;
        }, "the PID namespace holder to fork its inner process");
        return inner;
    }

    /// <summary>Starts <c>unshare FLAGS sleep 1000</c> and waits until its <paramref name="link"/> namespace differs from ours.</summary>
    private int StartNamespaceHolder(string link, params string[] unshareFlags)
    {
        var holder = StartHelper("unshare", [.. unshareFlags, "sleep", "1000"]);
        var host = HostReadLink($"/proc/self/ns/{link}");
        Eventually(() => HostReadLink($"/proc/{holder.Id}/ns/{link}") != host, $"the holder to unshare its {link} namespace");
        return holder.Id;
    }

    [SkippableFact]
    public void JoinedPidNamespace_IsTheTarget_AndTheExitStatusIsPropagated()
    {
        var inner = StartPidNamespaceHolder();
        var target = HostReadLink($"/proc/{inner}/ns/pid");
        var spec = Specs.Shell("echo ns=$(readlink /proc/self/ns/pid); echo pid=$$; exit 7")
            .WithNamespace("pid", $"/proc/{inner}/ns/pid");

        var result = RunContainer(spec);

        Assert.Equal(7, result.ExitCode);
        Assert.Contains($"ns={target}\n", result.Stdout);
        var pid = int.Parse(result.Stdout.Split('\n').Single(l => l.StartsWith("pid=", StringComparison.Ordinal))[4..]);
        Assert.NotEqual(1, pid); // the holder's sleep is pid 1 there
    }

    [SkippableFact]
    public void JoinedPidNamespace_StateShowsTheHostPid_AndKillStopsIt()
    {
        var inner = StartPidNamespaceHolder();
        var target = HostReadLink($"/proc/{inner}/ns/pid");
        Bundle.WriteConfig(Specs.Default("sleep", "1000").WithNamespace("pid", $"/proc/{inner}/ns/pid"));

        var run = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);

        Assert.True(run.Succeeded, "run -d failed: " + run);
        var pid = Pid();
        Assert.Equal(target, HostReadLink($"/proc/{pid}/ns/pid"));
        Assert.Equal("sleep\01000\0", File.ReadAllText($"/proc/{pid}/cmdline"));
        // NSpid: the host pid first, then the pid inside the joined namespace (not 1).
        var nspid = File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("NSpid:", StringComparison.Ordinal))
            .Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.Equal(2, nspid.Length);
        Assert.Equal(pid.ToString(), nspid[0]);
        Assert.NotEqual("1", nspid[1]);

        Assert.True(Runtime.Run("kill", Id, "KILL").Succeeded);
        WaitForStatus("stopped");
        Assert.True(Runtime.Run("delete", Id).Succeeded);
        Leaks.AssertClean();
    }

    // Joining a network namespace owned by the host's user namespace while creating a new user namespace:
    // the join happens before the unshare (with the runtime's privileges), so it succeeds; sysfs may then not be
    // mounted (the new user namespace does not own the network namespace) and berth-runtime binds the host's /sys
    // read-only instead, as runc 1.2 does. runc 1.1.5 fails here: "mount sysfs:/sys ... operation not permitted".
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void JoinedNetworkNamespace_WithANewUserNamespace()
    {
        const int hostId = 100000;
        var holder = StartNamespaceHolder("net", "-n");
        var target = HostReadLink($"/proc/{holder}/ns/net");
        Bundle.ChownRootfs(hostId, hostId);
        var spec = Specs.Shell("echo net=$(readlink /proc/self/ns/net); echo uid_map $(cat /proc/self/uid_map); " +
                               "touch /sys/bt-probe 2>/dev/null && echo sys=writable || echo sys=readonly")
            .WithNamespace("network", $"/proc/{holder}/ns/net")
            .WithNamespace("user");
        var mapping = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = hostId, ["size"] = 65536 });
        spec.Linux()["uidMappings"] = mapping;
        spec.Linux()["gidMappings"] = mapping.DeepClone();

        var stdout = RunShell(spec);

        Assert.Contains($"net={target}\n", stdout);
        Assert.Contains($"uid_map 0 {hostId} 65536\n", stdout);
        Assert.Contains("sys=readonly\n", stdout);
    }

    private void AssertBadNamespacePathFails(string path)
    {
        var result = Create(Specs.Default("true").WithNamespace("network", path));

        Assert.False(result.Succeeded, "create with network namespace path " + path + " succeeded: " + result);
        Assert.Contains(path, result.Stderr);
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void MissingNamespacePath_IsNamed_AndNothingIsLeft() =>
        AssertBadNamespacePathFails(Path.Combine(WorkDirectory, "no-such-ns"));

    // runc 1.1.5: "failed to setns into net namespace: Invalid argument", without the path.
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void NamespacePathOfTheWrongType_IsNamed_AndNothingIsLeft() =>
        AssertBadNamespacePathFails("/proc/self/ns/pid");

    /// <summary>
    /// A spec joining user namespace <paramref name="userNs"/> (which maps root to root) with new mount, pid,
    /// uts, ipc and network namespaces: the ones whose filesystems (mqueue, sysfs) need an owner in that user namespace.
    /// </summary>
    private static JsonObject JoinedUserSpec(string userNs)
    {
        var spec = Specs.Shell("echo user=$(readlink /proc/self/ns/user); echo uid_map $(cat /proc/self/uid_map); " +
                               "echo id=$(id -u):$(id -g); echo pid=$$")
            .WithNamespaces("pid", "mount", "uts", "ipc", "network")
            .WithNamespace("user", userNs);
        // Only id 0 is mapped there: devpts's gid=5 would be EINVAL.
        var devpts = spec.Mounts().Single(m => (string?)m!["destination"] == "/dev/pts")!["options"]!.AsArray();
        devpts.Remove(devpts.Single(o => (string?)o == "gid=5"));
        // runc 1.1.5 insists on mappings in the config even when joining; they match the namespace's.
        var rootToRoot = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 0, ["size"] = 1 });
        spec.Linux()["uidMappings"] = rootToRoot;
        spec.Linux()["gidMappings"] = rootToRoot.DeepClone();
        return spec;
    }

    private void AssertJoinedUserNamespace(int holder)
    {
        var target = HostReadLink($"/proc/{holder}/ns/user");

        var stdout = RunShell(JoinedUserSpec($"/proc/{holder}/ns/user"));

        Assert.Contains($"user={target}\n", stdout);
        Assert.Contains("uid_map 0 0 1\n", stdout);
        Assert.Contains("id=0:0\n", stdout);
        Assert.Contains("pid=1\n", stdout);
    }

    [SkippableFact]
    public void JoinedUserNamespace_IsTheTarget()
    {
        // No mapping flags: the test, as root, writes the maps, so /proc/PID/setgroups stays "allow".
        var holder = StartNamespaceHolder("user", "--user");
        File.WriteAllText($"/proc/{holder}/uid_map", "0 0 1\n");
        File.WriteAllText($"/proc/{holder}/gid_map", "0 0 1\n");

        AssertJoinedUserNamespace(holder);
    }

    // `unshare --map-root-user` writes "deny" to /proc/PID/setgroups. runc then skips setgroups(2) when the process
    // asks for no additional groups; berth-runtime calls setgroups([]) anyway and fails with EPERM.
    [SkippableFact]
    public void JoinedUserNamespace_WithSetgroupsDenied()
    {
        var holder = StartNamespaceHolder("user", "--user", "--map-root-user");
        Eventually(() => File.ReadAllText($"/proc/{holder}/gid_map").Trim().Length > 0, "unshare to write the maps");
        Assert.Equal("deny", File.ReadAllText($"/proc/{holder}/setgroups").Trim());

        AssertJoinedUserNamespace(holder);
    }

    // Another container's user namespace maps its root to an unprivileged host uid, and its mount namespace belongs to
    // that user namespace. The joined process starts as host root, which is unmapped there (uid 65534): unless it
    // becomes root of the joined namespace before init execs, init runs without capabilities and cannot even set the
    // propagation of "/". runc 1.1.5 runs this container (its last stage always switches to uid 0 and gid 0).
    [SkippableFact]
    public void JoinedUserAndMountNamespaces_WhoseRootIsAnotherHostUid()
    {
        const int hostId = 100000;
        var holder = StartNamespaceHolder("user", "--user", "--mount");
        File.WriteAllText($"/proc/{holder}/uid_map", $"0 {hostId} 65536\n");
        File.WriteAllText($"/proc/{holder}/gid_map", $"0 {hostId} 65536\n");
        Bundle.ChownRootfs(hostId, hostId);
        var spec = Specs.Shell("echo user=$(readlink /proc/self/ns/user); echo mnt=$(readlink /proc/self/ns/mnt); " +
                               "echo uid_map $(cat /proc/self/uid_map); echo id=$(id -u):$(id -g); echo pid=$$; ls /bin/busybox")
            .WithNamespaces("pid", "uts", "ipc", "network")
            .WithNamespace("user", $"/proc/{holder}/ns/user")
            .WithNamespace("mount", $"/proc/{holder}/ns/mnt");
        var mapping = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = hostId, ["size"] = 65536 });
        spec.Linux()["uidMappings"] = mapping;
        spec.Linux()["gidMappings"] = mapping.DeepClone();

        var stdout = RunShell(spec);

        Assert.Contains($"user={HostReadLink($"/proc/{holder}/ns/user")}\n", stdout);
        Assert.Contains($"mnt={HostReadLink($"/proc/{holder}/ns/mnt")}\n", stdout);
        Assert.Contains($"uid_map 0 {hostId} 65536\n", stdout);
        Assert.Contains("id=0:0\n", stdout);
        Assert.Contains("pid=1\n", stdout);
        Assert.Contains("/bin/busybox\n", stdout);
    }

    // Another running container's own namespaces: its mount namespace is rooted in its rootfs (busybox here), where
    // init, exec'd after the joins, finds no dynamic loader. runc 1.1.5 fails too, preparing the rootfs in it ("open
    // /proc/self/mountinfo: no such file or directory"; with the other's PID namespace too, root.path is not found
    // there); the error says why, and nothing is left.
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void JoiningAContainersOwnMountNamespace_FailsSayingWhy_AndLeavesNothing()
    {
        const int hostId = 100000;
        Bundle.ChownRootfs(hostId, hostId);
        var mapping = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = hostId, ["size"] = 65536 });
        var first = Specs.Default("sleep", "1000").WithNamespace("user");
        first.Linux()["uidMappings"] = mapping;
        first.Linux()["gidMappings"] = mapping.DeepClone();
        Bundle.WriteConfig(first);
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        int pid = Pid();
        var second = TrackId(NewId());
        var spec = Specs.Default("true").WithNamespaces("pid")
            .WithNamespace("user", $"/proc/{pid}/ns/user")
            .WithNamespace("mount", $"/proc/{pid}/ns/mnt");
        spec.Linux()["uidMappings"] = mapping.DeepClone();
        spec.Linux()["gidMappings"] = mapping.DeepClone();
        spec.Remove("hostname");
        Bundle.WriteConfig(spec);

        var create = Runtime.Run("create", "--bundle", Bundle.Path, second);

        Assert.False(create.Succeeded, "create in another container's mount namespace succeeded: " + create);
        Assert.Contains($"/proc/{pid}/ns/mnt", create.Stderr);
        Assert.Contains("dynamic loader", create.Stderr);
        Assert.False(State(second).Succeeded, "the container exists after its create failed");
    }
}
