using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>linux.seccomp: the filter is installed in the container, and syscalls behave as the profile says.</summary>
public sealed class SeccompTests(ITestOutputHelper output) : ContainerTest(output)
{
    static JsonObject Profile(string defaultAction, params JsonObject[] syscalls) => new()
    {
        ["defaultAction"] = defaultAction,
        ["architectures"] = Specs.Strings("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray(syscalls),
    };

    static JsonObject Rule(string action, string[] names, int? errnoRet = null, params JsonObject[] args)
    {
        var rule = new JsonObject { ["names"] = Specs.Strings(names), ["action"] = action };
        if (errnoRet is not null) rule["errnoRet"] = errnoRet;
        if (args.Length > 0) rule["args"] = new JsonArray(args);
        return rule;
    }

    static JsonObject Arg(int index, string op, ulong value) => new() { ["index"] = index, ["op"] = op, ["value"] = value };

    static JsonObject DockerDefault() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", "docker-default-seccomp.json")))!.AsObject();

    static JsonObject WithSeccomp(JsonObject spec, JsonObject profile)
    {
        spec.Linux()["seccomp"] = profile;
        return spec;
    }

    // mkdir(1) may use mkdir(2) or mkdirat(2): deny both. /dev/shm is writable although the root is read-only.
    static readonly string[] MkdirCalls = ["mkdir", "mkdirat"];

    [SkippableFact]
    public void FilterIsInstalled()
    {
        var spec = WithSeccomp(Specs.Shell("grep -E '^Seccomp' /proc/self/status"), Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", MkdirCalls)));

        var status = RunShell(spec);

        Assert.Matches(@"(?m)^Seccomp:\s+2$", status);
        Assert.Matches(@"(?m)^Seccomp_filters:\s+1$", status);
    }

    [SkippableFact]
    public void WithoutAProfile_NoFilter()
    {
        Assert.Matches(@"(?m)^Seccomp:\s+0$", RunShell(Specs.Shell("grep -E '^Seccomp' /proc/self/status")));
    }

    [SkippableFact]
    public void DeniedSyscall_FailsWithEperm()
    {
        var spec = WithSeccomp(Specs.Shell("mkdir /dev/shm/x; echo rc=$?; test -d /dev/shm/x && echo exists; touch /dev/shm/y && echo touched"),
            Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", MkdirCalls)));

        var result = RunContainer(spec);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("Operation not permitted", result.Stderr);
        Assert.Contains("rc=1", result.Stdout);
        Assert.DoesNotContain("exists", result.Stdout);
        Assert.Contains("touched", result.Stdout); // only mkdir is denied
    }

    [SkippableFact]
    public void DeniedSyscall_FailsWithTheChosenErrno()
    {
        var spec = WithSeccomp(Specs.Shell("mkdir /dev/shm/x; echo rc=$?"),
            Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", MkdirCalls, errnoRet: 28 /* ENOSPC */)));

        var result = RunContainer(spec);

        Assert.Contains("No space left on device", result.Stderr);
        Assert.Contains("rc=1", result.Stdout);
    }

    [SkippableFact]
    public void DefaultErrnoRet_IsWhatUnlistedSyscallsGet()
    {
        // Everything allowed but mkdir/mkdirat, which fall to the default: ERRNO with defaultErrnoRet EDQUOT (122).
        var docker = DockerDefault();
        var syscalls = docker["syscalls"]!.AsArray();
        var allowAll = syscalls.Select(s => s!.AsObject()).First(s => (string?)s["action"] == "SCMP_ACT_ALLOW" && s["args"] is null);
        var names = allowAll["names"]!.AsArray();
        foreach (var name in MkdirCalls) names.Remove(names.First(n => (string?)n == name));
        docker["defaultErrnoRet"] = 122;

        var result = RunContainer(WithSeccomp(Specs.Shell("mkdir /dev/shm/x; echo rc=$?"), docker));

        Assert.Contains("Disk quota exceeded", result.Stderr);
        Assert.Contains("rc=1", result.Stdout);
    }

    [SkippableTheory]
    [InlineData("SCMP_ACT_KILL")]
    [InlineData("SCMP_ACT_KILL_PROCESS")]
    [InlineData("SCMP_ACT_TRAP")]
    public void KillAndTrapActions_EndTheCallerWithSigsys(string action)
    {
        var spec = WithSeccomp(Specs.Shell("mkdir /dev/shm/x; echo rc=$?"), Profile("SCMP_ACT_ALLOW", Rule(action, MkdirCalls)));

        // The shell survives (only its mkdir child calls mkdir) and sees 128 + SIGSYS (31).
        Assert.Contains("rc=159", RunShell(spec));
    }

    [SkippableFact]
    public void Flags_ArePassedToTheKernel()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_LOG", ["getppid"]), Rule("SCMP_ACT_ERRNO", MkdirCalls));
        profile["flags"] = Specs.Strings("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");

        var result = RunContainer(WithSeccomp(Specs.Shell("grep -E '^Seccomp:' /proc/self/status; mkdir /dev/shm/x; echo rc=$?"), profile));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Matches(@"(?m)^Seccomp:\s+2$", result.Stdout);
        Assert.Contains("rc=1", result.Stdout);
    }

    [SkippableFact]
    public void ArgumentCondition_AllowsOrDeniesByValue()
    {
        // busybox linux32 calls personality(PER_LINUX32 = 8), linux64 personality(PER_LINUX = 0).
        var spec = WithSeccomp(Specs.Shell("linux64 true && echo linux64-ok; linux32 true && echo linux32-ok; echo done"),
            Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", ["personality"], null, Arg(0, "SCMP_CMP_EQ", 8))));

        var result = RunContainer(spec);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("linux64-ok", result.Stdout);
        Assert.DoesNotContain("linux32-ok", result.Stdout);
        Assert.Contains("Operation not permitted", result.Stderr);
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)] // installed before the user and capability switch, which the profile must then allow
    public void DockerDefaultProfile_LeavesAShellWorking(bool noNewPrivileges)
    {
        var spec = WithSeccomp(Specs.Shell("ls /; grep -E '^Seccomp' /proc/self/status; mkdir /dev/shm/d && echo ok"), DockerDefault());
        spec.Process()["noNewPrivileges"] = noNewPrivileges;
        spec.Process()["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };

        var stdout = RunShell(spec);

        Assert.Contains("proc", stdout);
        Assert.Matches(@"(?m)^Seccomp:\s+2$", stdout);
        Assert.Contains("ok", stdout);
    }

    /// <summary>
    /// libseccomp's filter always covers the native architecture: a profile that lists only SCMP_ARCH_X86 and
    /// SCMP_ARCH_X32 still governs x86_64 calls with its rules (found from outside: every call of init was killed as a
    /// bad architecture, and `run` hung with a zombie init).
    /// </summary>
    [SkippableFact]
    public void AProfileForX86AndX32Only_StillAppliesItsRulesToNativeCalls()
    {
        var profile = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", MkdirCalls));
        profile["architectures"] = Specs.Strings("SCMP_ARCH_X86", "SCMP_ARCH_X32");

        var result = RunContainer(WithSeccomp(Specs.Shell("echo started; mkdir /dev/shm/x; echo rc=$?"), profile));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("started", result.Stdout);
        Assert.Contains("rc=1", result.Stdout);
        Assert.Contains("Operation not permitted", result.Stderr);
    }

    /// <summary>
    /// A profile that kills (SCMP_ACT_KILL: the calling thread only) a call the runtime's own init makes after the
    /// filter: without no_new_privs the filter comes before the user and capability switch, whose capset it kills.
    /// The create must end, naming what happened, and leave nothing; the runtime's other threads must not keep a
    /// dead init alive. runc 1.1.5 answers differently (its Go init dies with the thread).
    /// </summary>
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData("SCMP_ACT_KILL")]
    [InlineData("SCMP_ACT_KILL_THREAD")]
    [InlineData("SCMP_ACT_KILL_PROCESS")]
    public void KillingACallOfTheRuntimesOwnInit_FailsCreateNamingIt_AndNeverHangs(string action)
    {
        var spec = WithSeccomp(Specs.Default("true"), Profile("SCMP_ACT_ALLOW", Rule(action, ["capset"])));
        spec.Process()["noNewPrivileges"] = false;
        Bundle.WriteConfig(spec);

        var result = Runtime.Run(["create", "--bundle", Bundle.Path, Id], globalArguments: null, timeout: TimeSpan.FromSeconds(60));

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("container init", result.Stderr);
        Assert.Matches("SIGSYS|signal 31|seccomp", result.Stderr);
        Assert.False(Runtime.Run("state", Id).Succeeded, "a failed create left a container behind");
        Leaks.AssertClean();
    }

    /// <summary>The names of Docker's default profile whose x86_64 number is at most statx's (332): a profile as old ones are.</summary>
    static JsonObject ProfileUpToStatx()
    {
        var profile = DockerDefault();
        foreach (var rule in profile["syscalls"]!.AsArray().Select(r => r!.AsObject()))
        {
            var kept = rule["names"]!.AsArray().Select(n => (string)n!).Where(n => !Seccomp.Syscalls.TryGetNumber(Seccomp.SyscallAbi.X86_64, n, out uint nr) || nr <= 332).ToArray();
            rule["names"] = Specs.Strings(kept.Length > 0 ? kept : ["statx"]);
        }
        return profile;
    }

    /// <summary>
    /// A profile written before the runtime's own newer calls existed (its newest syscall is statx, the default
    /// SCMP_ACT_ERRNO): runc's ENOSYS rule lets programs fall back from faccessat2 and openat2, and the runtime keeps
    /// what it does under the filter to the old calls (found from outside: `exec: "/bin/sh": permission denied` from
    /// faccessat2, EPERM reading /etc/passwd with openat2, and a cwd check failing with a .NET resource key).
    /// </summary>
    [SkippableTheory]
    [InlineData(true, 0)]
    [InlineData(false, 0)]
    [InlineData(true, 1000)]
    [InlineData(false, 1000)]
    public void AProfileOlderThanTheRuntimesCalls_RunsAsWithRunc(bool noNewPrivileges, int uid)
    {
        var spec = WithSeccomp(Specs.Shell("echo ok; echo home=$HOME; pwd"), ProfileUpToStatx());
        spec.Process()["noNewPrivileges"] = noNewPrivileges;
        spec.Process()["user"] = new JsonObject { ["uid"] = uid, ["gid"] = uid };
        spec.Process()["env"] = Specs.Strings("PATH=/bin"); // no HOME: the runtime reads /etc/passwd
        spec.Process()["cwd"] = "/tmp";
        File.WriteAllText(Bundle.InRootfs("/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n");

        var result = RunContainer(spec);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("ok", result.Stdout);
        Assert.Contains(uid == 0 ? "home=/root" : "home=/home/u", result.Stdout);
        Assert.Contains("/tmp", result.Stdout);
        Assert.DoesNotMatch("[A-Z][a-z]+_[A-Z][A-Za-z]+_", result.Stderr);
    }

    [SkippableFact]
    public void DockerDefaultProfile_DeniesMountAndUnshare()
    {
        var spec = WithSeccomp(Specs.Shell("unshare -m true; echo unshare=$?"), DockerDefault());
        spec.Process()["capabilities"] = new JsonObject
        {
            // Allowed by the capability, denied by the profile: dockerd generated it for a container without
            // CAP_SYS_ADMIN, so it has no rule for unshare or mount.
            ["bounding"] = Specs.Strings("CAP_SYS_ADMIN"),
            ["effective"] = Specs.Strings("CAP_SYS_ADMIN"),
            ["permitted"] = Specs.Strings("CAP_SYS_ADMIN"),
        };

        var result = RunContainer(spec);

        Assert.Contains("unshare=1", result.Stdout);
        Assert.Contains("Operation not permitted", result.Stderr);
    }

    public static TheoryData<string, string, string> BadProfiles => new()
    {
        { """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["mkdir"],"action":"SCMP_ACT_DENY"}]}""", "$.linux.seccomp.syscalls[1].action", "SCMP_ACT_DENY" },
        { """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2,"op":"SCMP_CMP_LIKE"}]}]}""", "$.linux.seccomp.syscalls[0].args[0].op", "SCMP_CMP_LIKE" },
        { """{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_PDP11"]}""", "$.linux.seccomp.architectures[1]", "SCMP_ARCH_PDP11" },
        { """{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NOPE"]}""", "$.linux.seccomp.flags[0]", "SECCOMP_FILTER_FLAG_NOPE" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadProfiles))]
    public void BadProfile_FailsCreate_NamingThePath_AndLeavesNothing(string profile, string path, string value)
    {
        var result = Create(WithSeccomp(Specs.Shell("true"), JsonNode.Parse(profile)!.AsObject()));

        Assert.False(result.Succeeded, "create should fail: " + result);
        Assert.Contains(path, result.Stderr);
        Assert.Contains(value, result.Stderr);
        Assert.False(State().Succeeded, "the container exists after a failed create");
        Leaks.AssertClean();
    }
}
