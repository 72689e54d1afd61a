using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class ProcessTests(ITestOutputHelper output) : ContainerTest(output)
{
    [SkippableFact]
    public void Root_GetsExactlyTheBoundingSet()
    {
        // For uid 0 without file capabilities, execve makes permitted = effective = bounding (| inheritable),
        // so the spec's lists must agree for root; the set is deliberately not runc's default.
        string[] caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_CHROOT"];
        var spec = Specs.Shell("cat /proc/self/status");
        spec.Process()["capabilities"] = new JsonObject
        {
            ["bounding"] = Specs.Strings(caps),
            ["effective"] = Specs.Strings(caps),
            ["permitted"] = Specs.Strings(caps),
        };

        var status = RunShell(spec);

        Assert.Equal(Capabilities.Mask(caps), Capabilities.ParseStatusValue(status, "CapBnd"));
        Assert.Equal(Capabilities.Mask(caps), Capabilities.ParseStatusValue(status, "CapEff"));
        Assert.Equal(Capabilities.Mask(caps), Capabilities.ParseStatusValue(status, "CapPrm"));
    }

    /// <summary>/opt/bin/echo in the rootfs: busybox, mode 0700, owned by root.</summary>
    void AddRootOnlyEcho()
    {
        Bundle.CreateDirectory(Bundle.InRootfs("/opt/bin"));
        string program = Bundle.InRootfs("/opt/bin/echo");
        Bundle.CopyExecutable("/bin/busybox", program);
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>
    /// The executable lookup decides as the kernel's execve will: a user holding CAP_DAC_OVERRIDE may run a program
    /// that has no execute bit for that user (mode 0700, owned by root), as with runc. access(2) would check the real
    /// uid without capabilities and refuse it.
    /// </summary>
    [SkippableFact]
    public void ANonRootUserWithDacOverride_RunsAProgramOnlyRootMayExecute()
    {
        AddRootOnlyEcho();
        var spec = Specs.Default("echo", "ran");
        spec.Process()["env"] = Specs.Strings("PATH=/opt/bin");
        spec.Process()["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
        string[] caps = ["CAP_DAC_OVERRIDE"];
        spec.Process()["capabilities"] = new JsonObject
        {
            ["bounding"] = Specs.Strings(caps),
            ["effective"] = Specs.Strings(caps),
            ["permitted"] = Specs.Strings(caps),
        };

        var result = RunContainer(spec);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("ran", result.Stdout.Trim());
    }

    /// <summary>Without the capability the same program is refused at create, naming it (runc: permission denied).</summary>
    [SkippableFact]
    public void ANonRootUserWithoutDacOverride_IsRefusedAProgramOnlyRootMayExecute()
    {
        AddRootOnlyEcho();
        var spec = Specs.Default("/opt/bin/echo", "ran");
        spec.Process()["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };

        var result = Create(spec);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("/opt/bin/echo", result.Stderr);
        Assert.Contains("permission denied", result.Stderr);
    }

    [SkippableFact]
    public void NonRoot_KeepsAmbientCapabilities_WithinTheBoundingSet()
    {
        string[] bounding = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"];
        string[] kept = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
        var spec = Specs.Shell("cat /proc/self/status");
        spec.Process()["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
        spec.Process()["capabilities"] = new JsonObject
        {
            ["bounding"] = Specs.Strings(bounding),
            ["effective"] = Specs.Strings(kept),
            ["permitted"] = Specs.Strings(kept),
            ["inheritable"] = Specs.Strings(kept),
            ["ambient"] = Specs.Strings(kept),
        };

        var status = RunShell(spec);

        Assert.Equal(Capabilities.Mask(bounding), Capabilities.ParseStatusValue(status, "CapBnd"));
        Assert.Equal(Capabilities.Mask(kept), Capabilities.ParseStatusValue(status, "CapEff"));
        Assert.Equal(Capabilities.Mask(kept), Capabilities.ParseStatusValue(status, "CapAmb"));
    }

    [SkippableTheory]
    [InlineData(true, "1")]
    [InlineData(false, "0")]
    public void NoNewPrivileges_IsAsAsked(bool noNewPrivileges, string expected)
    {
        var spec = Specs.Shell("grep NoNewPrivs /proc/self/status");
        spec.Process()["noNewPrivileges"] = noNewPrivileges;

        Assert.Matches($@"^NoNewPrivs:\s+{expected}$", RunShell(spec).Trim());
    }

    [SkippableFact]
    public void Rlimits_AreApplied()
    {
        var spec = Specs.Shell("echo soft=$(ulimit -n); grep -E 'Max (open files|core file size)' /proc/self/limits");
        spec.Process()["rlimits"] = new JsonArray(
            new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 1234, ["hard"] = 2345 },
            new JsonObject { ["type"] = "RLIMIT_CORE", ["soft"] = 4096, ["hard"] = 8192 });

        var stdout = RunShell(spec);

        Assert.Contains("soft=1234\n", stdout);
        Assert.Matches(@"Max open files\s+1234\s+2345\s+files", stdout);
        Assert.Matches(@"Max core file size\s+4096\s+8192\s+bytes", stdout);
    }

    [SkippableFact]
    public void User_UidGidAndAdditionalGroups()
    {
        var spec = Specs.Shell("echo uid=$(id -u) gid=$(id -g); grep -E '^(Uid|Gid|Groups):' /proc/self/status");
        spec.Process()["user"] = new JsonObject
        {
            ["uid"] = 1000, ["gid"] = 1001, ["additionalGids"] = new JsonArray(1002, 1003),
        };

        var stdout = RunShell(spec);

        Assert.Contains("uid=1000 gid=1001\n", stdout);
        Assert.Matches(@"Uid:\s+1000\s+1000\s+1000\s+1000", stdout);
        Assert.Matches(@"Gid:\s+1001\s+1001\s+1001\s+1001", stdout);
        var groups = stdout.Split('\n').Single(l => l.StartsWith("Groups:", StringComparison.Ordinal))["Groups:".Length..]
            .Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("1002", groups);
        Assert.Contains("1003", groups);
        Assert.DoesNotContain("0", groups); // root's group must not leak into the container user
    }

    [SkippableFact]
    public void Umask_Cwd_AndEnvironment()
    {
        var spec = Specs.Shell("echo umask=$(umask); echo cwd=$(pwd); echo \"var=$BT_VAR\"");
        spec.Process()["user"]!["umask"] = Convert.ToInt32("027", 8);
        spec.Process()["cwd"] = "/tmp";
        spec.Process()["env"]!.AsArray().Add("BT_VAR=hello world");

        var stdout = RunShell(spec);

        Assert.Contains("umask=0027\n", stdout);
        Assert.Contains("cwd=/tmp\n", stdout);
        Assert.Contains("var=hello world\n", stdout);
    }

    [SkippableFact]
    public void OomScoreAdj_IsRaised()
    {
        // Only raising is possible here: lowering below the caller's value needs CAP_SYS_RESOURCE, which root lacks.
        var hostValue = int.Parse(File.ReadAllText("/proc/self/oom_score_adj").Trim());
        var wanted = Math.Min(hostValue + 123, 1000);
        Skip.If(wanted == hostValue, "oom_score_adj is already 1000; cannot raise it");
        var spec = Specs.Shell("cat /proc/self/oom_score_adj");
        spec.Process()["oomScoreAdj"] = wanted;

        Assert.Equal(wanted.ToString(), RunShell(spec).Trim());
    }

    [SkippableFact]
    public void ExitCode_IsPropagated()
    {
        var result = RunContainer(Specs.Shell("exit 3"));

        Assert.Equal(3, result.ExitCode);
    }

    [SkippableFact]
    public void KilledBySignal_Exits128PlusSignal()
    {
        // No PID namespace: a PID-1 shell would ignore its own SIGKILL.
        var spec = Specs.Shell("kill -9 $$; echo survived").WithoutNamespace("pid");

        var result = RunContainer(spec);

        Assert.Equal(137, result.ExitCode);
        Assert.DoesNotContain("survived", result.Stdout);
    }

    [SkippableFact]
    public void OnlyStdioIsOpen_WhenTheProcessStarts()
    {
        // ls holds one more fd (3) for the directory it reads; anything else leaked from the runtime (CVE-2024-21626).
        var fds = RunShell(Specs.Default("ls", "/proc/self/fd"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Order().ToArray();

        Assert.Equal([0, 1, 2, 3], fds);
    }

    /// <summary>
    /// A cwd the process's user cannot enter (0700, owned by root): runc enters it as root before it switches to the
    /// user, so the process starts there (and can then not list it). A cwd the user may enter but root may not (a
    /// root-squashed volume) would be entered after the switch; that case needs such a file system.
    /// </summary>
    [SkippableFact]
    public void ACwdOnlyRootCanEnter_IsEnteredBeforeTheUserSwitch()
    {
        string dir = Bundle.InRootfs("/root-only");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var spec = Specs.Shell("pwd; id -u; ls >/dev/null 2>&1 || echo cannot-list");
        spec.Process()["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
        spec.Process()["cwd"] = "/root-only";

        Assert.Equal("/root-only\n1000\ncannot-list\n", RunShell(spec));
    }
}
