using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>The create/run flags that are not in config.json: --preserve-fds (and LISTEN_FDS), --no-pivot, --no-new-keyring.</summary>
public sealed class RuntimeFlagsTests(ITestOutputHelper output) : ContainerTest(output)
{
    private const string Fd3Script = "if [ -e /proc/self/fd/3 ]; then echo fd3=$(cat /proc/self/fd/3); else echo fd3=none; fi; " +
                                     "echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID";

    /// <summary>A host file with content unique to this test, to be inherited as fd 3.</summary>
    private (string Path, string Content) Fd3File()
    {
        var content = "fd3-content-" + Id;
        var path = Path.Combine(WorkDirectory, "fd3.txt");
        File.WriteAllText(path, content + "\n");
        return (path, content);
    }

    private RuntimeResult RunWithFd3(RuntimeInvocation invocation, params string[] flags)
    {
        Bundle.WriteConfig(Specs.Shell(Fd3Script));
        var result = Runtime.Run(["run", "--bundle", Bundle.Path, .. flags, Id], invocation);
        Assert.True(result.Succeeded, "container run failed: " + result);
        return result;
    }

    [SkippableFact]
    public void PreserveFds_PassesFd3IntoTheContainer()
    {
        var (file, content) = Fd3File();

        var result = RunWithFd3(new RuntimeInvocation { InheritedFiles = [file] }, "--preserve-fds", "1");

        Assert.Contains($"fd3={content}\n", result.Stdout);
    }

    [SkippableFact]
    public void WithoutPreserveFds_Fd3IsClosed()
    {
        var (file, _) = Fd3File();

        var result = RunWithFd3(new RuntimeInvocation { InheritedFiles = [file] });

        Assert.Contains("fd3=none\n", result.Stdout);
    }

    // The check runs in the runtime's own process, where the .NET runtime has already opened fds of its own
    // (fd 3 is its /dev/urandom), so an fd 3 the caller never passed looks open and the run goes ahead.
    // runc 1.1.5 does not check either (and hands the container its own /sys/fs/cgroup fd, see below).
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void PreserveFds_OfAClosedFd_IsRefused()
    {
        Bundle.WriteConfig(Specs.Shell("true"));

        var result = Runtime.Run("run", "--bundle", Bundle.Path, "--preserve-fds", "1", Id);

        Assert.False(result.Succeeded, "run with --preserve-fds 1 and no fd 3 succeeded: " + result);
        Assert.Contains("fd 3", result.Stderr);
        Leaks.AssertClean();
    }

    // Whatever the runtime itself holds at fd 3 must not reach the container (CVE-2024-21626: runc 1.1.5 passes
    // its O_PATH fd of the host's /sys/fs/cgroup here, a way out of the rootfs).
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void PreserveFds_OfAClosedFd_PassesNoFdOfTheRuntime()
    {
        Bundle.WriteConfig(Specs.Shell(Fd3Script + "; readlink /proc/self/fd/3; true"));

        var result = Runtime.Run("run", "--bundle", Bundle.Path, "--preserve-fds", "1", Id);

        if (result.Succeeded)
            Assert.Contains("fd3=none\n", result.Stdout);
        else
            Assert.Contains("fd 3", result.Stderr); // a refusal is fine too
    }

    // Socket activation: LISTEN_FDS=1 with LISTEN_PID = the runtime's pid counts as one preserved fd.
    [SkippableFact]
    public void ListenFds_CountsAsPreservedFds()
    {
        var (file, content) = Fd3File();
        var invocation = new RuntimeInvocation
        {
            InheritedFiles = [file],
            Environment = new Dictionary<string, string> { ["LISTEN_FDS"] = "1" },
            ListenPidIsRuntime = true,
        };

        var result = RunWithFd3(invocation);

        Assert.Contains($"fd3={content}\n", result.Stdout);
    }

    // runc appends LISTEN_FDS=<n> and LISTEN_PID=1 to the process environment, so the socket-activated program
    // in the container (pid 1 there) knows its fds; berth-runtime passes the fds but not the variables.
    [SkippableFact]
    public void ListenFds_IsAnnouncedToTheContainerProcess()
    {
        var (file, _) = Fd3File();
        var invocation = new RuntimeInvocation
        {
            InheritedFiles = [file],
            Environment = new Dictionary<string, string> { ["LISTEN_FDS"] = "1" },
            ListenPidIsRuntime = true,
        };

        var result = RunWithFd3(invocation);

        Assert.Contains("LISTEN_FDS=1 LISTEN_PID=1\n", result.Stdout);
    }

    // sd_listen_fds(3): LISTEN_FDS is meant for the process whose pid is LISTEN_PID; a runtime that inherited the
    // variables from its parent must ignore them (runc does, through go-systemd's activation.Files).
    [SkippableFact]
    public void ListenFds_ForAnotherPid_IsIgnored()
    {
        var (file, _) = Fd3File();
        var invocation = new RuntimeInvocation
        {
            InheritedFiles = [file],
            Environment = new Dictionary<string, string> { ["LISTEN_FDS"] = "1", ["LISTEN_PID"] = "1" },
        };

        var result = RunWithFd3(invocation);

        Assert.Contains("fd3=none\n", result.Stdout);
    }

    [SkippableFact]
    public void NoPivot_RootIsTheRootfs()
    {
        File.WriteAllText(Bundle.InRootfs("/marker-" + Id), Id);
        Bundle.WriteConfig(Specs.Shell($"cat /marker-{Id}; echo; cat /proc/self/mountinfo"));

        var result = Runtime.Run("run", "--no-pivot", "--bundle", Bundle.Path, Id);

        Assert.True(result.Succeeded, "run --no-pivot failed: " + result);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Id, lines[0]);
        // mountinfo: id parent major:minor root mountpoint ... ; the "/" mount is the bundle's rootfs.
        var rootMounts = lines.Skip(1).Select(l => l.Split(' ')).Where(f => f.Length > 4 && f[4] == "/").ToList();
        Assert.True(rootMounts.Count > 0, "no mount on / in the container's mountinfo:\n" + result.Stdout);
        Assert.Equal(Bundle.Rootfs, rootMounts[^1][3]);
        // Nothing of the host's tree is visible: every other mount point is one the spec (or its masks) made.
        var mountPoints = lines.Skip(1).Select(l => l.Split(' ')[4]).Where(m => m != "/");
        Assert.All(mountPoints, m => Assert.Matches("^/(proc|dev|sys)(/|$)", m));
    }

    private void WriteKeysConfig()
    {
        var spec = Specs.Shell("cat /proc/keys");
        spec.Linux()["maskedPaths"]!.AsArray().Remove(spec.Linux()["maskedPaths"]!.AsArray().Single(p => (string?)p == "/proc/keys"));
        Bundle.WriteConfig(spec);
    }

    [SkippableFact]
    public void SessionKeyring_IsNewAndNamedAfterTheId()
    {
        WriteKeysConfig();

        var result = Runtime.Run("run", "--bundle", Bundle.Path, Id);

        Assert.True(result.Succeeded, "run failed: " + result);
        Assert.Matches($@"keyring\s+_ses\.{Id}:", result.Stdout);
    }

    [SkippableFact]
    public void NoNewKeyring_KeepsTheCallersSessionKeyring()
    {
        WriteKeysConfig();

        var result = Runtime.Run("run", "--no-new-keyring", "--bundle", Bundle.Path, Id);

        Assert.True(result.Succeeded, "run --no-new-keyring failed: " + result);
        Assert.Contains("keyring", result.Stdout); // /proc/keys was readable at all
        Assert.DoesNotContain($"_ses.{Id}", result.Stdout);
    }
}
