using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// Where linux.cgroupsPath puts the container, read from the host in /proc/PID/cgroup of its running process:
/// absolute paths from each hierarchy's root, relative ones (and the default, the id) below the caller's cgroup.
/// </summary>
public sealed class CgroupPlacementTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>/proc/PID/cgroup as "hierarchy-id:controllers" → path (v1 lines and the "0::" v2 line).</summary>
    private static Dictionary<string, string> ReadCgroups(string file) =>
        File.ReadAllLines(file).Where(l => l.Length > 0).ToDictionary(
            l => l[..l.LastIndexOf(':')],
            l => l[(l.LastIndexOf(':') + 1)..]);

    private static string Join(string parent, string child) => parent.TrimEnd('/') + "/" + child;

    /// <summary>Creates and starts a sleeping container with <paramref name="cgroupsPath"/>; returns its cgroups.</summary>
    private Dictionary<string, string> StartWithCgroupsPath(string? cgroupsPath)
    {
        var spec = Specs.Default("sleep", "1000");
        if (cgroupsPath is not null)
            spec.Linux()["cgroupsPath"] = cgroupsPath;
        var create = Create(spec);
        Assert.True(create.Succeeded, "create failed: " + create);
        var start = Runtime.Run("start", Id);
        Assert.True(start.Succeeded, "start failed: " + start);
        return ReadCgroups($"/proc/{Pid()}/cgroup");
    }

    private void DeleteAndAssertClean()
    {
        var delete = Runtime.Run("delete", "--force", Id);
        Assert.True(delete.Succeeded, "delete --force failed: " + delete);
        Leaks.AssertClean();
    }

    /// <summary>Removes (rmdir) leftover parent cgroups named <paramref name="name"/>; returns the ones that were there.</summary>
    private static List<string> RemoveParents(string name)
    {
        var found = LeakCheck.CgroupDirectoriesNamed(name);
        foreach (var dir in found.OrderByDescending(d => d.Length))
        {
            try
            {
                Directory.Delete(dir, recursive: false);
            }
            catch (IOException)
            {
                // busy: reported by the caller's assertion
            }
        }
        return found;
    }

    [SkippableFact]
    public void AbsoluteCgroupsPath_IsUsedInEveryHierarchy()
    {
        var parent = "berth-test-" + Id;
        var path = $"/{parent}/{Id}";
        try
        {
            var cgroups = StartWithCgroupsPath(path);

            Assert.NotEmpty(cgroups);
            Assert.Contains("0:", cgroups.Keys); // the cgroup2 ("0::") line
            Assert.All(cgroups, c => Assert.True(c.Value == path, $"{c.Key} is {c.Value}, expected {path}"));
            DeleteAndAssertClean();
        }
        finally
        {
            RemoveParents(parent);
        }
    }

    [SkippableFact]
    public void RelativeCgroupsPath_IsBelowTheCallersCgroupInEachHierarchy()
    {
        var caller = ReadCgroups("/proc/self/cgroup");
        var parent = "sub-" + Id;
        try
        {
            var cgroups = StartWithCgroupsPath($"{parent}/{Id}");

            Assert.Equal(caller.Keys.Order(), cgroups.Keys.Order());
            Assert.All(cgroups, c => Assert.Equal(Join(caller[c.Key], $"{parent}/{Id}"), c.Value));
            DeleteAndAssertClean();
        }
        finally
        {
            RemoveParents(parent);
        }
    }

    [SkippableFact]
    public void DefaultCgroupsPath_IsTheIdBelowTheCallersCgroup()
    {
        var caller = ReadCgroups("/proc/self/cgroup");

        var cgroups = StartWithCgroupsPath(null);

        Assert.Equal(caller.Keys.Order(), cgroups.Keys.Order());
        Assert.All(cgroups, c => Assert.Equal(Join(caller[c.Key], Id), c.Value));
        DeleteAndAssertClean();
    }

    // runc 1.1.5 removes only the container's own directory and leaves the parents it created.
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData(true)]
    [InlineData(false)]
    public void ParentCgroupsTheRuntimeCreated_AreRemovedOnDelete(bool absolute)
    {
        var parent = (absolute ? "berth-test-" : "sub-") + Id;
        Assert.Empty(LeakCheck.CgroupDirectoriesNamed(parent));
        var cgroups = StartWithCgroupsPath(absolute ? $"/{parent}/{Id}" : $"{parent}/{Id}");
        Assert.All(cgroups.Values, p => Assert.Contains($"/{parent}/", p));

        DeleteAndAssertClean();

        var left = RemoveParents(parent);
        Assert.True(left.Count == 0, "parent cgroups left after delete: " + string.Join(", ", left));
    }

    // ---- How init gets there: it places itself before it runs anything (spawn.c's place_in_cgroups) ----

    /// <summary>Each thread of <paramref name="pid"/> (its tid) → its cgroups.</summary>
    private static Dictionary<string, Dictionary<string, string>> ThreadCgroups(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").ToDictionary(t => Path.GetFileName(t), t => ReadCgroups(Path.Combine(t, "cgroup")));

    [SkippableFact]
    public void EveryThreadOfInit_IsInTheContainersCgroups_WhileItWaitsForStart()
    {
        // init is a .NET process with threads of its own while it waits on exec.fifo: the stage moved only its one
        // thread (v1 `tasks`), before the exec, so every thread must have been born inside.
        var caller = ReadCgroups("/proc/self/cgroup");
        var create = Create(Specs.Default("true"));
        Assert.True(create.Succeeded, "create failed: " + create);

        var threads = ThreadCgroups(Pid());
        Assert.True(threads.Count > 1, $"init has {threads.Count} thread(s); the check needs the runtime's threads too");
        foreach (var (tid, cgroups) in threads)
        {
            Assert.Equal(caller.Keys.Order(), cgroups.Keys.Order());
            Assert.All(cgroups, c => Assert.True(c.Value == Join(caller[c.Key], Id), $"thread {tid} of init: {c.Key} is {c.Value}, expected {Join(caller[c.Key], Id)}"));
        }
        DeleteAndAssertClean();
    }

    /// <summary>
    /// A launcher that refuses clone3 with ENOSYS (as an older seccomp profile does, e.g. a runtime run inside a container)
    /// and then execs its arguments; `--probe` reports what clone3 returns under the filter.
    /// </summary>
    private string NoClone3Launcher()
    {
        const string source = """
            #include <errno.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <string.h>
            #include <unistd.h>
            #include <sys/prctl.h>
            #include <sys/syscall.h>
            #include <linux/audit.h>
            #include <linux/filter.h>
            #include <linux/seccomp.h>
            int main(int argc, char **argv) {
                struct sock_filter f[] = {
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435, 0, 1),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = { sizeof f / sizeof f[0], f };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) { perror("seccomp"); return 125; }
                if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
                    long r = syscall(435, NULL, 0);
                    printf("%s\n", r < 0 && errno == ENOSYS ? "ENOSYS" : strerror(errno));
                    return 0;
                }
                execv(argv[1], argv + 1);
                perror("execv");
                return 126;
            }
            """;
        string dir = HostDirectory("no-clone3");
        string c = Path.Combine(dir, "no-clone3.c"), launcher = Path.Combine(dir, "no-clone3");
        File.WriteAllText(c, source);
        Bundle.RunTool("gcc", "-O1", "-o", launcher, c);
        Assert.Equal("ENOSYS", Bundle.RunTool(launcher, "--probe").Trim());
        // The runner runs one file: a script that puts the runtime under the launcher.
        string script = Path.Combine(dir, "berth-runtime");
        File.WriteAllText(script, $"#!/bin/sh\nexec {launcher} {RuntimeBinary.Path} \"$@\"\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ed);
        return script;
    }

    [SkippableFact]
    public void WithoutClone3_TheStageWritesItsCgroup2ProcsItself()
    {
        // CLONE_INTO_CGROUP needs clone3; where a filter refuses it, the plain clone's child writes "0" to the cgroup2
        // cgroup.procs (and to the v1 tasks files, as always).
        var caller = ReadCgroups("/proc/self/cgroup");
        Skip.IfNot(caller.ContainsKey("0:"), "no cgroup2 hierarchy on this host: nothing would be cloned into");
        var runner = new RuntimeRunner(StateRoot, Path.Combine(WorkDirectory, "io-no-clone3"), Output, NoClone3Launcher());
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var create = runner.Run("create", "--bundle", Bundle.Path, Id);
        Assert.True(create.Succeeded, "create without clone3 failed: " + create);
        Assert.True(runner.Run("start", Id).Succeeded, "start failed");

        var cgroups = ReadCgroups($"/proc/{Pid()}/cgroup");
        Assert.Equal(caller.Keys.Order(), cgroups.Keys.Order());
        Assert.All(cgroups, c => Assert.Equal(Join(caller[c.Key], Id), c.Value));
        DeleteAndAssertClean();
    }

    // runc 1.1.5 fails too (EBUSY), with its own words.
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void ACgroup2ThatTakesNoProcesses_FailsTheCreateNamingTheFile_AndLeavesNothing()
    {
        // A cgroup2 directory with a controller on for its children takes no process of its own ("no internal
        // processes"): clone3 refuses to clone into it (EBUSY), and so does the stage's own write to cgroup.procs.
        var caller = ReadCgroups("/proc/self/cgroup");
        Skip.IfNot(caller.ContainsKey("0:"), "no cgroup2 hierarchy on this host");
        string unifiedRoot = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f => f.Length > 8 && f[^3] == "cgroup2")
            .Select(f => f[4]).FirstOrDefault() ?? "";
        Skip.If(unifiedRoot == "", "no cgroup2 mount found in /proc/self/mountinfo");
        string controllers = File.ReadAllText(Path.Combine(unifiedRoot, "cgroup.subtree_control")).Trim();
        Skip.If(controllers == "", $"{unifiedRoot}/cgroup.subtree_control enables no controller to turn on below it");
        string controller = controllers.Split(' ')[0];
        var parent = "berth-test-" + Id;
        string dir = Path.Combine(unifiedRoot, parent, Id);
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(unifiedRoot, parent, "cgroup.subtree_control"), "+" + controller);
            File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), "+" + controller);
            var spec = Specs.Default("true");
            spec.Linux()["cgroupsPath"] = $"/{parent}/{Id}";
            Bundle.WriteConfig(spec);

            var create = Runtime.Run("create", "--bundle", Bundle.Path, Id);

            Assert.False(create.Succeeded, "create into a cgroup that takes no processes succeeded: " + create);
            Assert.Contains($"{dir}/cgroup.procs", create.Stderr);
            Assert.Contains("busy", create.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.False(Directory.Exists(Path.Combine(StateRoot, Id)), "the failed create left its state directory");
            Assert.DoesNotContain(LeakCheck.CgroupDirectoriesNamed(parent), d => !d.StartsWith(unifiedRoot + "/", StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir);
            RemoveParents(parent);
        }
    }
}
