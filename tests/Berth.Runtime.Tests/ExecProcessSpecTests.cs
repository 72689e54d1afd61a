using Berth.Oci;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Tests;

public class ExecProcessSpecTests
{
    private static Process ContainerProcess()
    {
        var p = DefaultSpec.Create(rootless: false, hostUid: 0, hostGid: 0).Process!;
        p.Env = ["PATH=/usr/bin:/bin", "TERM=xterm", "A=1"];
        p.User = new User { Uid = 10, Gid = 20, AdditionalGids = [3] };
        p.Rlimits = [new PosixRlimit { Type = "RLIMIT_NOFILE", Soft = 100, Hard = 200 }];
        p.Cwd = "/srv";
        return p;
    }

    private static ProcessConfig Container() => ConfigConverter.ConvertProcess(ContainerProcess());

    [Fact]
    public void InlineArgsTakeTheContainersProcessAndReplaceArgs()
    {
        var p = ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags { Args = ["ls", "-l"] });
        Assert.Equal(["ls", "-l"], p.Args);
        Assert.Equal("/srv", p.Cwd);
        Assert.Equal(10u, p.User.Uid);
        Assert.Equal(20u, p.User.Gid);
        Assert.Equal([3u], p.User.AdditionalGids);
        Assert.False(p.Terminal);
        Assert.Equal(ContainerProcess().Capabilities!.Bounding, p.Capabilities!.Bounding);
    }

    [Fact]
    public void FlagsOverrideCwdUserAndAppendEnvAndGids()
    {
        var p = ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags
        {
            Args = ["true"], Cwd = "/tmp", User = "5:6", AdditionalGids = ["7", "8"], Env = ["A=2", "B=3"], NoNewPrivileges = true,
        });
        Assert.Equal("/tmp", p.Cwd);
        Assert.Equal((5u, 6u), (p.User.Uid, p.User.Gid));
        Assert.Equal([3u, 7u, 8u], p.User.AdditionalGids);
        Assert.True(p.NoNewPrivileges);
        var converted = ExecProcessSpec.Convert(p, Container(), "exec");
        // Later wins, at the place of the first.
        Assert.Equal(["PATH=/usr/bin:/bin", "TERM=xterm", "A=2", "B=3"], converted.Env);
    }

    [Fact]
    public void UserWithoutGidKeepsTheContainersGid()
    {
        var p = ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags { Args = ["true"], User = "0" });
        Assert.Equal((0u, 20u), (p.User.Uid, p.User.Gid));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1:x")]
    [InlineData("-1")]
    [InlineData("1:2:3")]
    public void NonNumericUserIsRefused(string user)
    {
        var e = Assert.Throws<ArgumentException>(() => ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags { Args = ["true"], User = user }));
        Assert.Contains($"--user {user}", e.Message);
    }

    [Fact]
    public void EmptyArgsAreRefused() =>
        Assert.Contains("args cannot be empty", Assert.Throws<ArgumentException>(() => ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags())).Message);

    [Fact]
    public void CapGoesToBoundingEffectiveAndPermittedOnly()
    {
        var p = ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags { Args = ["true"], Capabilities = ["CAP_SYS_ADMIN"] });
        var c = ExecProcessSpec.Convert(p, Container(), "exec").Capabilities!;
        ulong sysAdmin = 1UL << 21;
        Assert.NotEqual(0UL, c.Bounding & sysAdmin);
        Assert.NotEqual(0UL, c.Effective & sysAdmin);
        Assert.NotEqual(0UL, c.Permitted & sysAdmin);
        Assert.Equal(0UL, c.Inheritable & sysAdmin);
        Assert.Equal(0UL, c.Ambient & sysAdmin);
    }

    [Fact]
    public void UnknownCapIsRefusedByName() =>
        Assert.Contains("CAP_NOPE", Assert.Throws<ArgumentException>(() =>
            ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags { Args = ["true"], Capabilities = ["CAP_NOPE"] })).Message);

    [Fact]
    public void ProcessFileWithoutCapsOrRlimitsGetsTheContainers()
    {
        var exec = new Process { Args = ["true"], Cwd = "/", User = new User { Uid = 1 } };
        var c = ExecProcessSpec.Convert(exec, Container(), "--process p.json");
        Assert.Equal(Container().Capabilities, c.Capabilities);
        Assert.Equal(Container().Rlimits, c.Rlimits);
        Assert.Equal(1u, c.Uid);
        Assert.Equal([], c.AdditionalGids);
    }

    [Fact]
    public void ProcessFileCapsAndRlimitsWin()
    {
        var exec = new Process
        {
            Args = ["true"], Cwd = "/",
            Capabilities = new LinuxCapabilities { Bounding = ["CAP_KILL"], Effective = ["CAP_KILL"] },
            Rlimits = [new PosixRlimit { Type = "RLIMIT_CORE", Soft = 1, Hard = 2 }],
            NoNewPrivileges = true,
        };
        var c = ExecProcessSpec.Convert(exec, Container(), "--process p.json");
        Assert.Equal(1UL << 5, c.Capabilities!.Bounding);
        Assert.Equal(0UL, c.Capabilities.Permitted);
        Assert.Equal(["RLIMIT_CORE"], c.Rlimits.Select(r => r.Name));
        Assert.True(c.NoNewPrivileges);
    }

    [Theory]
    [InlineData("FOO")]
    [InlineData("=x")]
    public void MalformedEnvIsRefusedWithItsPath(string bad)
    {
        var exec = new Process { Args = ["true"], Cwd = "/", Env = ["A=1", bad] };
        var e = Assert.Throws<SpecException>(() => ExecProcessSpec.Convert(exec, Container(), "--process p.json"));
        Assert.Contains("--process p.json", e.Message);
        Assert.Contains("$.env[1]", e.Message);
    }

    [Fact]
    public void RelativeCwdIsRefused() =>
        Assert.Contains("$.cwd", Assert.Throws<SpecException>(() =>
            ExecProcessSpec.Convert(new Process { Args = ["true"], Cwd = "tmp" }, Container(), "exec")).Message);

    [Fact]
    public void TtyFlagAsksForATerminal_AndATerminalProcessConverts()
    {
        Assert.True(ExecProcessSpec.FromFlags(ContainerProcess(), new ExecFlags { Args = ["sh"], Tty = true }).Terminal);
        var exec = new Process { Args = ["true"], Cwd = "/", Terminal = true };
        Assert.True(ExecProcessSpec.Convert(exec, Container(), "exec").Terminal);
    }

    [Theory]
    [InlineData("apparmor")]
    [InlineData("selinux")]
    public void UnsupportedFieldsAreRefusedByName(string field)
    {
        var exec = new Process { Args = ["true"], Cwd = "/" };
        string path = field switch
        {
            "apparmor" => (exec.ApparmorProfile = "x", "$.apparmorProfile").Item2,
            _ => (exec.SelinuxLabel = "x", "$.selinuxLabel").Item2,
        };
        Assert.Contains(path, Assert.Throws<SpecException>(() => ExecProcessSpec.Convert(exec, Container(), "exec")).Message);
    }

    [Fact]
    public void AmbientNotPermittedAndInheritableIsReported()
    {
        var caps = new CapabilitySet(Bounding: ~0UL, Effective: 0, Inheritable: 1UL << 5, Permitted: (1UL << 5) | (1UL << 10), Ambient: (1UL << 5) | (1UL << 10));
        Assert.Equal(["CAP_NET_BIND_SERVICE"], ExecProcessSpec.UnraisableAmbient(caps));
        Assert.Empty(ExecProcessSpec.UnraisableAmbient(null));
    }

    [Fact]
    public void CgroupSubPathForAllOrNamedControllers()
    {
        var paths = new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory/c1", ["pids"] = "/sys/fs/cgroup/pids/c1" };
        var all = CgroupSubPaths.Apply(paths, ["sub"]);
        Assert.Equal("/sys/fs/cgroup/memory/c1/sub", all["memory"]);
        Assert.Equal("/sys/fs/cgroup/pids/c1/sub", all["pids"]);
        var one = CgroupSubPaths.Apply(paths, ["memory:/a/b"]);
        Assert.Equal("/sys/fs/cgroup/memory/c1/a/b", one["memory"]);
        Assert.Equal("/sys/fs/cgroup/pids/c1", one["pids"]);
        var two = CgroupSubPaths.Apply(paths, ["memory,pids:x"]);
        Assert.Equal("/sys/fs/cgroup/pids/c1/x", two["pids"]);
    }

    [Fact]
    public void CgroupSubPathsAreParsedAsRuncParsesThem()
    {
        var paths = new Dictionary<string, string> { ["memory"] = "/m/c1", ["pids"] = "/p/c1", ["unified"] = "/u/c1" };
        // An empty controller list, as a value without one, means every controller (runc: SubCgroupPaths[""]).
        Assert.Equal(CgroupSubPaths.Apply(paths, ["sub"]), CgroupSubPaths.Apply(paths, [":sub"]));
        Assert.Equal("/u/c1/sub", CgroupSubPaths.Apply(paths, [":sub"])["unified"]);
        var e = Assert.Throws<ContainerException>(() => CgroupSubPaths.Apply(paths, ["memory:a", "b"]));
        Assert.Contains("--cgroup b: a sub-cgroup without a controller must be the only --cgroup", e.Message);
        e = Assert.Throws<ContainerException>(() => CgroupSubPaths.Apply(paths, ["memory:a:b"]));
        Assert.Contains("--cgroup memory:a:b: not [<controller>[,<controller>]:]<cgroup>", e.Message);
    }

    [Fact]
    public void ASubCgroupOfOneOfCoMountedControllersMovesTheirHierarchy()
    {
        // cpu and cpuacct mounted together: one directory, one key each. Writing the pid to the sub-cgroup for "cpu"
        // and to the container's cgroup for "cpuacct" would leave the process wherever the last write put it.
        var paths = new Dictionary<string, string> { ["cpu"] = "/sys/fs/cgroup/cpu,cpuacct/c1", ["cpuacct"] = "/sys/fs/cgroup/cpu,cpuacct/c1", ["memory"] = "/m/c1" };
        var one = CgroupSubPaths.Apply(paths, ["cpu:sub"]);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/c1/sub", one["cpu"]);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/c1/sub", one["cpuacct"]);
        Assert.Equal("/m/c1", one["memory"]);
        var e = Assert.Throws<ContainerException>(() => CgroupSubPaths.Apply(paths, ["cpu:a", "cpuacct:b"]));
        Assert.Contains("cpu and cpuacct share one hierarchy", e.Message);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("memory:a/../../b")]
    [InlineData("cpu:sub")]
    [InlineData("memory:")]
    public void BadCgroupSubPathsAreRefused(string value)
    {
        var paths = new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory/c1" };
        var e = Assert.Throws<ContainerException>(() => CgroupSubPaths.Apply(paths, [value]));
        Assert.Contains(value, e.Message);
    }
}
