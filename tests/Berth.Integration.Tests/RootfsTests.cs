using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class RootfsTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>The mountinfo line whose mount point (field 5) is <paramref name="mountPoint"/>.</summary>
    private static string MountLine(string mountinfo, string mountPoint) =>
        mountinfo.Split('\n').LastOrDefault(l => l.Split(' ').ElementAtOrDefault(4) == mountPoint)
        ?? throw new Xunit.Sdk.XunitException($"no mount at {mountPoint} in:\n{mountinfo}");

    /// <summary>Per-mount options (field 6) and super options (last field) of a mountinfo line.</summary>
    private static (string[] MountOptions, string[] SuperOptions) Options(string line)
    {
        var fields = line.Split(' ');
        return (fields[5].Split(','), fields[^1].Split(','));
    }

    [SkippableFact]
    public void MaskedPaths_ReadEmpty()
    {
        Bundle.CreateDirectory(Bundle.InRootfs("/secret-dir"));
        File.WriteAllText(Bundle.InRootfs("/secret-dir/inner"), "hidden");
        File.WriteAllText(Bundle.InRootfs("/secret-file"), "hidden");
        var spec = Specs.Shell(
            "echo kcore=$(cat /proc/kcore | wc -c); echo file=$(cat /secret-file | wc -c); " +
            "echo dir=$(ls -A /secret-dir | wc -l); echo firmware=$(ls -A /sys/firmware | wc -l)");
        spec.Linux()["maskedPaths"]!.AsArray().Add("/secret-dir");
        spec.Linux()["maskedPaths"]!.AsArray().Add("/secret-file");

        var stdout = RunShell(spec);

        Assert.Contains("kcore=0\n", stdout);
        Assert.Contains("file=0\n", stdout);
        Assert.Contains("dir=0\n", stdout);
        Assert.Contains("firmware=0\n", stdout);
        Assert.True(Directory.EnumerateFileSystemEntries("/sys/firmware").Any(), "host /sys/firmware is empty: the check above proves nothing");
        Assert.Equal("hidden", File.ReadAllText(Bundle.InRootfs("/secret-file"))); // masking must not touch the file
    }

    [SkippableFact]
    public void ReadonlyPaths_RefuseWrites()
    {
        Bundle.CreateDirectory(Bundle.InRootfs("/data"));
        // kernel.hostname is per UTS namespace: harmless even if the write went through.
        var spec = Specs.Shell(
            "echo bt-changed > /proc/sys/kernel/hostname 2>/dev/null; echo sysrc=$?; " +
            "touch /data/x 2>/dev/null; echo datarc=$?; cat /proc/self/mountinfo");
        spec.Process()["capabilities"]!["bounding"]!.AsArray().Add("CAP_SYS_ADMIN");
        spec.Process()["capabilities"]!["effective"]!.AsArray().Add("CAP_SYS_ADMIN");
        spec.Process()["capabilities"]!["permitted"]!.AsArray().Add("CAP_SYS_ADMIN");
        spec.Linux()["readonlyPaths"]!.AsArray().Add("/data");
        spec["root"]!["readonly"] = false;

        var stdout = RunShell(spec);

        Assert.DoesNotContain("sysrc=0\n", stdout);
        Assert.DoesNotContain("datarc=0\n", stdout);
        Assert.Contains("ro", Options(MountLine(stdout, "/proc/sys")).MountOptions);
        Assert.Contains("ro", Options(MountLine(stdout, "/data")).MountOptions);
        Assert.False(File.Exists(Bundle.InRootfs("/data/x")));
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void RootReadonly_ControlsWritesToTheRoot(bool readOnly)
    {
        var spec = Specs.Shell("touch /x 2>/dev/null; echo rc=$?");
        spec["root"]!["readonly"] = readOnly;

        var stdout = RunShell(spec);

        Assert.Equal(readOnly, !stdout.Contains("rc=0\n"));
        Assert.Equal(readOnly, !File.Exists(Bundle.InRootfs("/x")));
    }

    [SkippableFact]
    public void SpecMounts_AppearWithTheirOptions()
    {
        var hostDir = HostDirectory("shared-dir");
        File.WriteAllText(Path.Combine(hostDir, "marker"), "from-host-dir");
        var hostFile = Path.Combine(WorkDirectory, "shared-file");
        File.WriteAllText(hostFile, "from-host-file");
        var spec = Specs.Shell(
            "cat /mnt/hostdir/marker; echo; cat /etc/bt-file; echo; touch /mnt/hostdir/new 2>/dev/null; echo bindrc=$?; " +
            "touch /mnt/t/ok; echo tmpfsrc=$?; cat /proc/self/mountinfo");
        spec.Mounts().Add(Specs.Mount("/mnt/t", "tmpfs", "tmpfs", "nosuid", "nodev", "noexec", "size=64k", "mode=755"));
        spec.Mounts().Add(Specs.Mount("/mnt/hostdir", "bind", hostDir, "rbind", "ro", "nosuid"));
        spec.Mounts().Add(Specs.Mount("/etc/bt-file", "bind", hostFile, "bind", "ro"));

        var stdout = RunShell(spec);

        Assert.Contains("from-host-dir\n", stdout);
        Assert.Contains("from-host-file\n", stdout);
        Assert.DoesNotContain("bindrc=0\n", stdout);
        Assert.Contains("tmpfsrc=0\n", stdout);
        var (tmpfsOptions, tmpfsSuper) = Options(MountLine(stdout, "/mnt/t"));
        Assert.Contains("nosuid", tmpfsOptions);
        Assert.Contains("nodev", tmpfsOptions);
        Assert.Contains("noexec", tmpfsOptions);
        Assert.Contains("size=64k", tmpfsSuper);
        var (bindOptions, _) = Options(MountLine(stdout, "/mnt/hostdir"));
        Assert.Contains("ro", bindOptions);
        Assert.Contains("nosuid", bindOptions);
        Assert.Contains("ro", Options(MountLine(stdout, "/etc/bt-file")).MountOptions);
        Assert.False(File.Exists(Path.Combine(hostDir, "new")));
        Assert.False(File.Exists(Path.Combine(hostDir, "ok")));
    }

    [SkippableFact]
    public void Dev_HasStandardNodes_DevptsAndSpecDevices()
    {
        var spec = Specs.Shell(
            "for d in null zero full random urandom tty; do echo $d $(stat -c '%F %t %T' /dev/$d); done; " +
            "echo spec $(stat -c '%F %t %T %a %u %g' /dev/bt-full); cat /proc/self/mountinfo");
        spec.Linux()["devices"] = new JsonArray(new JsonObject
        {
            ["path"] = "/dev/bt-full", ["type"] = "c", ["major"] = 1, ["minor"] = 7,
            ["fileMode"] = Convert.ToInt32("640", 8), ["uid"] = 0, ["gid"] = 5,
        });

        var stdout = RunShell(spec);

        Assert.Contains("null character special file 1 3\n", stdout);
        Assert.Contains("zero character special file 1 5\n", stdout);
        Assert.Contains("full character special file 1 7\n", stdout);
        Assert.Contains("urandom character special file 1 9\n", stdout);
        Assert.Contains("spec character special file 1 7 640 0 5\n", stdout);
        Assert.Contains(" - devpts ", MountLine(stdout, "/dev/pts"));
    }

    [SkippableFact]
    public void Sysctls_AreWrittenInTheContainersNetworkNamespace()
    {
        var hostTtl = File.ReadAllText("/proc/sys/net/ipv4/ip_default_ttl").Trim();
        var spec = Specs.Shell("echo fwd=$(cat /proc/sys/net/ipv4/ip_forward) ttl=$(cat /proc/sys/net/ipv4/ip_default_ttl)");
        spec.Linux()["sysctl"] = new JsonObject { ["net.ipv4.ip_forward"] = "1", ["net.ipv4.ip_default_ttl"] = "99" };

        Assert.Equal("fwd=1 ttl=99", RunShell(spec).Trim());
        Assert.Equal(hostTtl, File.ReadAllText("/proc/sys/net/ipv4/ip_default_ttl").Trim());
    }

    [SkippableFact]
    public void MountOnSymlinkPointingOutside_StaysInsideTheRootfs()
    {
        var hostDir = HostDirectory("victim");
        File.WriteAllText(Path.Combine(hostDir, "keep"), "untouched");
        File.CreateSymbolicLink(Bundle.InRootfs("/evil"), hostDir);
        var spec = Specs.Shell("touch /evil/pwned 2>/dev/null; echo done");
        spec.Mounts().Add(Specs.Mount("/evil", "tmpfs", "tmpfs", "size=64k"));
        spec["root"]!["readonly"] = false;

        RunContainer(spec); // success or refusal are both fine; escaping is not

        Assert.Equal(["keep"], Directory.EnumerateFileSystemEntries(hostDir).Select(p => Path.GetFileName(p)).ToArray());
        Assert.Equal("untouched", File.ReadAllText(Path.Combine(hostDir, "keep")));
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(hostDir, StringComparison.Ordinal));
    }

    private static UnixFileMode Octal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);

    /// <summary>Replaces the rootfs's <paramref name="dir"/> by a symlink to a directory beside it.</summary>
    private void MakeSymlinkedDirectory(string dir)
    {
        Directory.Delete(Bundle.InRootfs(dir));
        Bundle.CreateDirectory(Bundle.InRootfs(dir + "-real"));
        File.CreateSymbolicLink(Bundle.InRootfs(dir), dir.TrimStart('/') + "-real");
    }

    private void AssertRefusedNaming(JsonObject spec, string dir)
    {
        var create = Create(spec);

        Assert.False(create.Succeeded, $"create with {dir} a symlink succeeded: " + create);
        Assert.Contains(dir, create.Stderr);
        Assert.False(State().Succeeded, "the container exists after its create failed");
        Leaks.AssertClean();
    }

    // runc 1.1.5 refuses these too: filesystem "proc" must be mounted on ordinary directory.
    [SkippableTheory]
    [InlineData("/proc")]
    [InlineData("/sys")]
    public void ProcOrSysfs_OnASymlinkedDirectory_IsRefused(string dir)
    {
        MakeSymlinkedDirectory(dir);
        AssertRefusedNaming(Specs.Default("true"), dir);
    }

    // The host's /proc or /sys bound there instead (as berth-runtime does itself for /sys in a user namespace that may
    // not mount sysfs): the same filesystem, so the same rule. runc 1.1.5 follows the symlink and mounts it there.
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData("/proc")]
    [InlineData("/sys")]
    public void HostProcOrSysBound_OntoASymlinkedDirectory_IsRefused(string dir)
    {
        MakeSymlinkedDirectory(dir);
        var spec = Specs.Default("true");
        var mount = spec.Mounts().Single(m => (string?)m!["destination"] == dir)!.AsObject();
        mount["type"] = "bind";
        mount["source"] = dir;
        mount["options"] = Specs.Strings("rbind", "nosuid", "noexec", "nodev", "ro");
        if (dir == "/sys")
            spec.Mounts().Remove(spec.Mounts().Single(m => (string?)m!["destination"] == "/sys/fs/cgroup"));

        AssertRefusedNaming(spec, dir);
    }

    // As runc 1.1.5 (which sets the tmpfs's root to the directory's mode after mounting).
    [SkippableFact]
    public void TmpfsOnAnExistingDirectory_KeepsItsMode()
    {
        foreach (var (dir, mode) in new[] { ("m700", "700"), ("m1750", "1750") })
        {
            Directory.CreateDirectory(Bundle.InRootfs(dir));
            File.SetUnixFileMode(Bundle.InRootfs(dir), Octal(mode));
        }
        var spec = Specs.Shell("stat -c '%n %a' /m700 /m1750 /new");
        spec.Mounts().Add(Specs.Mount("/m700", "tmpfs", "tmpfs"));
        spec.Mounts().Add(Specs.Mount("/m1750", "tmpfs", "tmpfs", "size=1m", "nosuid"));
        spec.Mounts().Add(Specs.Mount("/new", "tmpfs", "tmpfs"));
        spec["root"]!["readonly"] = false;

        var stdout = RunShell(spec);

        Assert.Contains("/m700 700\n", stdout);
        Assert.Contains("/m1750 1750\n", stdout);
        Assert.Contains("/new 1777\n", stdout); // a directory made for the mount: tmpfs's own default
    }

    // The mount's own mode= wins, as with runc 1.2 and crun, which put the directory's mode first in the options.
    // runc 1.1.5 chmods the tmpfs's root to the directory's mode after mounting, over the mode= given (seen: 700).
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void TmpfsOnAnExistingDirectory_TakesTheModeGiven()
    {
        Directory.CreateDirectory(Bundle.InRootfs("given"));
        File.SetUnixFileMode(Bundle.InRootfs("given"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var spec = Specs.Shell("stat -c '%n %a' /given");
        spec.Mounts().Add(Specs.Mount("/given", "tmpfs", "tmpfs", "mode=755"));

        Assert.Equal("/given 755\n", RunShell(spec));
    }

    // podman's option (runc 1.1.5 and crun have it): the tmpfs starts with what the image had in the directory.
    [SkippableFact]
    public void TmpCopyUp_FillsTheTmpfsWithTheDirectorysContents()
    {
        var cu = Bundle.InRootfs("/cu");
        Directory.CreateDirectory(Path.Combine(cu, "sub"));
        File.WriteAllText(Path.Combine(cu, "a"), "a-content");
        File.WriteAllText(Path.Combine(cu, "sub", "b"), "b-content");
        File.CreateSymbolicLink(Path.Combine(cu, "link"), "a");
        File.SetUnixFileMode(Path.Combine(cu, "a"), Octal("604"));
        Bundle.RunTool("chown", "1000:1001", Path.Combine(cu, "a"));
        File.SetUnixFileMode(cu, Octal("750"));
        var spec = Specs.Shell("stat -c '%n %a %u:%g' /cu /cu/a /cu/sub; cat /cu/a /cu/sub/b; echo; echo link=$(readlink /cu/link); " +
                               "echo new > /cu/new && echo written; grep ' /cu ' /proc/self/mountinfo");
        spec.Mounts().Add(Specs.Mount("/cu", "tmpfs", "tmpfs", "tmpcopyup", "nosuid"));

        var stdout = RunShell(spec);

        Assert.Contains("/cu 750 0:0\n", stdout);
        Assert.Contains("/cu/a 604 1000:1001\n", stdout);
        Assert.Contains("/cu/sub 755 0:0\n", stdout);
        Assert.Contains("a-contentb-content\n", stdout);
        Assert.Contains("link=a\n", stdout);
        Assert.Contains("written\n", stdout);
        Assert.Contains(" - tmpfs ", stdout);
        Assert.False(File.Exists(Path.Combine(cu, "new")), "the write went to the image's directory, not the tmpfs");
    }
}
