using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Berth.ExecDrivers;
using Berth.Integration.Tests.Infrastructure;

namespace Berth.Monitor.Tests;

/// <summary>
/// berth-monitor with real containers, as root, under both exec drivers: the in-process Berth.Runtime ("berth") and
/// runc's binary ("runc").
/// </summary>
public sealed class MonitorTests
{
    public static TheoryData<string> Drivers => new() { "berth", "runc" };

    static int Ms => (int)MonitorHarness.Bound.TotalMilliseconds;

    static void RequireRoot()
    {
        Skip.If(Environment.UserName != "root" && Berth.Linux.Libc.geteuid() != 0, "needs root: real containers");
    }

    static void RequireDriver(string driver)
    {
        RequireRoot();
        Skip.If(driver == "runc" && !File.Exists(MonitorHarness.Runc), $"{MonitorHarness.Runc} is not installed");
    }

    static Oci.Process Process(params string[] args) => new()
    {
        Args = [.. args],
        Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cwd = "/",
        User = new Oci.User { Uid = 0, Gid = 0 },
    };

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void RecordsTheExitCodeAndLogsBothStreamsInOrder(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Shell("echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3"));
        var client = h.Launch();
        Assert.True(File.Exists(h.Request.Socket));
        Assert.True(h.MonitorProcessRuns());
        int pid = client.Start();
        Assert.True(pid > 0);
        var exit = client.Wait(MonitorHarness.Bound);
        Assert.Equal(3, exit.ExitCode);
        var record = ExitRecord.TryLoad(h.Request.ExitFile)!;
        Assert.Equal(3, record.ExitCode);
        Assert.Equal("", record.Error);
        Assert.Equal(exit.FinishedAt, record.FinishedAt);

        var entries = h.LogEntries();
        Assert.Equal(["out1\n", "out2\n"], entries.Where(e => e.Stream == "stdout").Select(e => e.Log).ToList());
        Assert.Equal(["err1\n", "err2\n"], entries.Where(e => e.Stream == "stderr").Select(e => e.Log).ToList());
        var finished = DateTime.Parse(record.FinishedAt, null, System.Globalization.DateTimeStyles.AdjustToUniversal);
        foreach (var e in entries) Assert.InRange(e.Time, finished.AddMinutes(-5), finished);
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void RotatesTheLogAtMaxSize(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Shell("i=0; while [ $i -lt 200 ]; do echo \"line $i of the rotation test\"; i=$((i+1)); done"),
            r => r.Log = r.Log with { MaxSize = 2000, MaxFile = 3 });
        var client = h.Launch();
        client.Start();
        Assert.Equal(0, client.Wait(MonitorHarness.Bound).ExitCode);
        string log = h.Request.Log.Path!;
        Assert.True(File.Exists(log + ".1") && File.Exists(log + ".2"), "rotated files .1 and .2");
        Assert.False(File.Exists(log + ".3"), "max-file 3 keeps the log and two rotated files");
        var kept = new[] { log + ".2", log + ".1", log }.SelectMany(f => h.LogEntries(f)).Select(e => e.Log).ToList();
        Assert.Equal("line 199 of the rotation test\n", kept[^1]);
        var numbers = kept.Select(l => int.Parse(l.Split(' ')[1])).ToList();
        Assert.Equal(Enumerable.Range(numbers[0], numbers.Count), numbers);
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void AttachGetsFramesAndFeedsStdin(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Shell("echo ready; cat; echo done >&2"), r => { r.OpenStdin = true; r.StdinOnce = true; });
        var client = h.Launch();
        using var stream = client.Attach(stdin: true, stdout: true, stderr: true);
        stream.ReadTimeout = Ms;
        client.Start();
        var frames = FrameReader.ReadAll(stream, f => FrameReader.Joined(f, 1).Contains("ready\n"));
        stream.Write("hello through stdin\n"u8);
        frames.AddRange(FrameReader.ReadAll(stream, f => FrameReader.Joined(f, 1).Contains("hello through stdin\n")));
        ((System.Net.Sockets.NetworkStream)stream).Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send); // EOF: cat ends
        frames.AddRange(FrameReader.ReadAll(stream));
        Assert.Equal("ready\nhello through stdin\n", FrameReader.Joined(frames, 1));
        Assert.Equal("done\n", FrameReader.Joined(frames, 2));
        Assert.Equal(0, client.Wait(MonitorHarness.Bound).ExitCode);
        Assert.Contains(h.LogEntries(), e => e.Log == "hello through stdin\n" && e.Stream == "stdout");
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void AnAttachedClientThatDoesNotReadIsDroppedAndTheContainerRunsOn(string driver)
    {
        RequireDriver(driver);
        // 20 MB of output against a client that never reads: far more than its queue and the socket buffers hold.
        using var h = new MonitorHarness(driver, Specs.Shell("i=0; while [ $i -lt 20000 ]; do echo \"$i $(printf '%0990d' 0)\"; i=$((i+1)); done; echo end"));
        var client = h.Launch();
        using var stalled = client.Attach(stdin: false, stdout: true, stderr: true);
        using var reader = client.Attach(stdin: false, stdout: true, stderr: false);
        reader.ReadTimeout = Ms;
        client.Start();
        var read = FrameReader.ReadAll(reader);
        Assert.EndsWith("end\n", FrameReader.Joined(read, 1));
        Assert.Equal(0, client.Wait(MonitorHarness.Bound).ExitCode);
        var entries = h.LogEntries();
        Assert.Equal(20001, entries.Count);
        Assert.Equal("end\n", entries[^1].Log);
        // The stalled client got less than everything, and its connection was closed.
        long got = 0;
        var buffer = new byte[65536];
        ((System.Net.Sockets.NetworkStream)stalled).ReadTimeout = Ms;
        try
        {
            int n;
            while ((n = stalled.Read(buffer)) > 0) got += n;
        }
        catch (IOException)
        {
            // Reset by the monitor: dropped.
        }
        Assert.InRange(got, 0, 19_000_000);
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void TerminalIsRawAndResizeReachesTheContainer(string driver)
    {
        RequireDriver(driver);
        var spec = Specs.Shell("read x; stty size; echo bye");
        spec["process"]!["terminal"] = true;
        using var h = new MonitorHarness(driver, spec, r => { r.Terminal = true; r.OpenStdin = true; });
        var client = h.Launch();
        using var stream = client.Attach(stdin: true, stdout: true, stderr: true);
        stream.ReadTimeout = Ms;
        client.Start();
        client.Resize(123, 45);
        stream.Write("go\n"u8);
        string text = FrameReader.ReadRaw(stream);
        Assert.Contains("45 123", text);
        Assert.Contains("bye\r\n", text); // the pty's onlcr: raw terminal output, no frames
        Assert.DoesNotContain('\u0001', text);
        Assert.Equal(0, client.Wait(MonitorHarness.Bound).ExitCode);
    }

    /// <summary>
    /// A monitor is one process per running container (issue 12: monitor and daemon under 1.5 MiB of PSS per
    /// container, of which each monitor's share of its binary's pages is about 0.6 MiB with 10 running): once the
    /// container has started, what it holds of its own (anonymous memory: heap, stacks, data it wrote) stays under
    /// 1.125 MiB. With the in-process driver the create's garbage kept 1376 KiB of it here (1.9 MiB under berthd's
    /// fuller spec) until the monitor collected it after the start-up: 888 KiB since.
    /// The create and the start also run much of the monitor's code: 4.6 MiB of its image's read-only pages touched
    /// under berthd (each monitor's share was 0.46 MiB with 10 running). Once idle, the monitor gives back the pages it
    /// no longer runs: those it maps fall under 2 MiB (before: 4088 KiB with runc, 4552 with the in-process driver).
    /// </summary>
    [SkippableTheory, MemberData(nameof(Drivers))]
    public void AWaitingMonitorHoldsLittleMemoryOfItsOwn(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Default("sleep", "1000"));
        var client = h.Launch();
        client.Start();
        var rollup = File.ReadAllLines($"/proc/{h.MonitorPid}/smaps_rollup");
        long anonymousKiB = long.Parse(rollup.Single(l => l.StartsWith("Anonymous:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        Assert.True(anonymousKiB < 1152, $"the monitor holds {anonymousKiB} KiB of anonymous memory with its container running (bound: 1152 KiB)");
        var binary = new FileInfo(Path.GetFullPath(MonitorHarness.MonitorBinary));
        string exe = binary.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? binary.FullName;
        long imageKiB;
        var deadline = DateTime.UtcNow + MonitorHarness.Bound;
        while ((imageKiB = ReadOnlyImageKiB(h.MonitorPid, exe)) >= 2048)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"the idle monitor still maps {imageKiB} KiB of its image's read-only pages after {MonitorHarness.Bound.TotalSeconds:0} s (bound: 2048 KiB)");
            Thread.Sleep(100);
        }
        Assert.Equal(137, h.KillAndWait(client));
    }

    /// <summary>The resident KiB of <paramref name="exe"/>'s read-only mappings in /proc/PID/smaps.</summary>
    static long ReadOnlyImageKiB(int pid, string exe)
    {
        long kib = 0;
        int mappings = 0;
        bool counting = false;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-') && fields[1].Length == 4)
            {
                counting = fields.Length == 6 && fields[5] == exe && fields[1][1] != 'w';
                if (counting) mappings++;
            }
            else if (counting && fields[0] == "Rss:")
                kib += long.Parse(fields[1]);
        }
        Assert.True(mappings > 0, $"process {pid} maps no read-only part of {exe}");
        return kib;
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void ExecRelaysOutputAndKeepsTheExitCode(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Default("sleep", "1000"));
        var client = h.Launch();
        client.Start();
        var (pid, stream) = client.Exec(Process("sh", "-c", "echo hi; echo oops >&2; exit 7"), tty: false, stdin: false);
        using (stream)
        {
            stream.ReadTimeout = Ms;
            var frames = FrameReader.ReadAll(stream);
            Assert.Equal("hi\n", FrameReader.Joined(frames, 1));
            Assert.Equal("oops\n", FrameReader.Joined(frames, 2));
        }
        Assert.Equal(7, client.ExecWait(pid, MonitorHarness.Bound));

        var (catPid, cat) = client.Exec(Process("cat"), tty: false, stdin: true);
        using (cat)
        {
            cat.ReadTimeout = Ms;
            cat.Write("via exec stdin\n"u8);
            ((System.Net.Sockets.NetworkStream)cat).Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.Equal("via exec stdin\n", FrameReader.Joined(FrameReader.ReadAll(cat), 1));
        }
        Assert.Equal(0, client.ExecWait(catPid, MonitorHarness.Bound));

        Assert.Equal(137, h.KillAndWait(client));
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void ExecWithATerminalIsRawAndResizable(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Default("sleep", "1000"));
        var client = h.Launch();
        client.Start();
        var (pid, stream) = client.Exec(Process("sh", "-c", "read x; stty size; exit 5"), tty: true, stdin: true);
        using (stream)
        {
            stream.ReadTimeout = Ms;
            client.ExecResize(pid, 77, 22);
            stream.Write("go\n"u8);
            Assert.Contains("22 77\r\n", FrameReader.ReadRaw(stream));
        }
        Assert.Equal(5, client.ExecWait(pid, MonitorHarness.Bound));
        var e = Assert.Throws<MonitorException>(() => client.ExecResize(pid + 100000, 10, 10));
        Assert.Contains("no process", e.Message);
        Assert.Equal(137, h.KillAndWait(client));
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void TheMonitorSurvivesItsLauncherBeingKilled(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Shell("i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"));
        h.Request.Save(h.RequestPath);
        // The launcher: a shell in a process group of its own that starts the monitor and stays; the whole group is
        // then killed, as a daemon killed with its children would be.
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var a in new[] { "sh", "-c", "\"$0\" \"$1\"; exec sleep 600", MonitorHarness.MonitorBinary, h.RequestPath }) start.ArgumentList.Add(a);
        using var launcher = System.Diagnostics.Process.Start(start)!;
        int monitorPid;
        try
        {
            MonitorHarness.WaitUntil(() => File.Exists(h.Request.PidFile), "the monitor's pid file");
            monitorPid = h.MonitorPid;
            Assert.NotEqual(launcher.Id, ParentOf(monitorPid));
        }
        finally
        {
            Berth.Linux.Libc.kill(-launcher.Id, 9);
        }
        Assert.True(launcher.WaitForExit(Ms));

        var client = new MonitorClient(h.Id, h.Request.Socket, h.Request.ExitFile);
        client.Start();
        var status = client.Status();
        Assert.True(status.Running);
        MonitorHarness.WaitUntil(() => File.Exists(h.Request.Log.Path) && h.LogEntries().Count >= 3, "three ticks in the log");
        Assert.True(Directory.Exists($"/proc/{monitorPid}"));
        int before = h.LogEntries().Count;
        MonitorHarness.WaitUntil(() => h.LogEntries().Count > before, "the log to grow");
        Assert.Equal(137, h.KillAndWait(client));
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void ADriverErrorAtCreateReachesTheLauncherAndLeavesNothing(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Default("/no/such/binary"));
        var e = Assert.Throws<MonitorException>(() => h.Launch());
        Assert.Contains("/no/such/binary", e.Message);
        Assert.False(h.MonitorProcessRuns(), "no monitor is left");
        Assert.False(File.Exists(h.Request.Socket));
        Assert.False(File.Exists(h.Request.PidFile));
        Assert.False(File.Exists(h.Request.ErrorFile), "the launcher consumed the error file");
        Assert.False(Directory.Exists(Path.Combine(h.StateRoot, h.Id)), "the runtime's state directory is gone");
    }

    [SkippableTheory, MemberData(nameof(Drivers))]
    public void TheMonitorIsNoChildOfItsLauncherAndLeavesNoZombie(string driver)
    {
        RequireDriver(driver);
        using var h = new MonitorHarness(driver, Specs.Shell("exit 5"));
        var client = h.Launch();
        int monitorPid = h.MonitorPid;
        // berthd must not have to reap it: a monitor that is its child stays a zombie (alive to kill(pid, 0)) until
        // reaped, and is reparented anyway when berthd restarts.
        Assert.NotEqual(Environment.ProcessId, StatField(monitorPid, 1));
        Assert.Equal(monitorPid, StatField(monitorPid, 3)); // a session of its own
        client.Start();
        Assert.Equal(5, client.Wait(MonitorHarness.Bound).ExitCode);
        MonitorHarness.WaitUntil(() => !Directory.Exists($"/proc/{monitorPid}"), $"the monitor (pid {monitorPid}) to be gone and reaped");
    }

    [SkippableFact]
    public void AMonitorThatEndsWithoutAPidOrErrorFileFailsTheLaunchAtOnce()
    {
        RequireRoot();
        using var h = new MonitorHarness("berth", Specs.Shell("true"));
        // /bin/true in the monitor's place exits without writing anything: the launch must not wait out its bound.
        var e = Assert.Throws<MonitorException>(() => MonitorClient.Launch("/bin/true", h.RequestPath, h.Request, TimeSpan.FromSeconds(30)));
        Assert.Contains($"the monitor of {h.Id} ended before it created the container", e.Message);
    }

    static int ParentOf(int pid) => StatField(pid, 1);

    /// <summary>Field <paramref name="index"/> after the command and state in /proc/PID/stat (1: ppid, 3: session).</summary>
    static int StatField(int pid, int index)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[index]);
    }
}
