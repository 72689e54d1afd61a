using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Berth.ExecDrivers;
using Berth.Integration.Tests.Infrastructure;

namespace Berth.Monitor.Tests;

/// <summary>
/// One container under a real berth-monitor: a busybox bundle, the monitor's directories as berthd lays them out
/// (docs/engine.md), a driver ("berth" in-process, or "runc"), and on dispose a check that nothing is left behind.
/// </summary>
public sealed class MonitorHarness : IDisposable
{
    public const string Runc = "/usr/sbin/runc";
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    readonly LeakCheck _leaks;

    public MonitorHarness(string driver, JsonObject spec, Action<MonitorRequest>? configure = null)
    {
        Id = $"mon-{Guid.NewGuid():N}"[..16];
        Work = Directory.CreateTempSubdirectory("berth-monitor-").FullName;
        Bundle = new Bundle(Path.Combine(Work, "bundle"));
        Bundle.WriteConfig(spec);
        string execRoot = Path.Combine(Work, "exec");
        ContainerDir = Path.Combine(execRoot, "containers", Id);
        DataDir = Path.Combine(Work, "data", Id);
        Directory.CreateDirectory(ContainerDir);
        Directory.CreateDirectory(DataDir);
        StateRoot = driver == "berth" ? Path.Combine(execRoot, "runtime") : Path.Combine(execRoot, "runtimes", driver);
        Request = new MonitorRequest
        {
            Id = Id,
            Bundle = Bundle.Path,
            Driver = driver == "berth" ? new DriverSpec { Name = "berth", Root = StateRoot } : new DriverSpec { Name = driver, Path = Runc, Root = StateRoot },
            Log = new LogSpec { Driver = "json-file", Path = Path.Combine(DataDir, $"{Id}-json.log"), MaxFile = 1 },
            ExitFile = Path.Combine(DataDir, "exit.json"),
            Socket = Path.Combine(ContainerDir, "monitor.sock"),
            PidFile = Path.Combine(ContainerDir, "monitor.pid"),
        };
        configure?.Invoke(Request);
        _leaks = new LeakCheck(Id, Work, StateRoot, Bundle.Rootfs);
    }

    public string Id { get; }
    public string Work { get; }
    public Bundle Bundle { get; }
    public string ContainerDir { get; }
    public string DataDir { get; }
    public string StateRoot { get; }
    public MonitorRequest Request { get; }
    public string RequestPath => Path.Combine(ContainerDir, "monitor.json");
    public MonitorClient? Client { get; private set; }

    /// <summary>berth-monitor as scripts/build.sh publishes it (BERTH_MONITOR overrides).</summary>
    public static string MonitorBinary
    {
        get
        {
            if (Environment.GetEnvironmentVariable("BERTH_MONITOR") is { Length: > 0 } set) return set;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Berth.slnx")))
                    return Path.Combine(dir.FullName, "artifacts", "publish", "berth-monitor");
            throw new InvalidOperationException("cannot find the repository (Berth.slnx) above the test's directory; set BERTH_MONITOR");
        }
    }

    public IExecDriver Driver => Request.Driver.Open();

    public MonitorClient Launch() => Client = MonitorClient.Launch(MonitorBinary, RequestPath, Request, Bound);

    public int MonitorPid => int.Parse(File.ReadAllText(Request.PidFile));

    public List<(string Log, string Stream, DateTime Time)> LogEntries(string? path = null) =>
        File.ReadAllLines(path ?? Request.Log.Path!).Select(line =>
        {
            var o = JsonNode.Parse(line)!.AsObject();
            string time = o["time"]!.GetValue<string>();
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", time);
            return (o["log"]!.GetValue<string>(), o["stream"]!.GetValue<string>(),
                DateTime.Parse(time, null, System.Globalization.DateTimeStyles.AdjustToUniversal));
        }).ToList();

    /// <summary>SIGKILLs the container's init through the driver; its exit code as the monitor reports it.</summary>
    public int KillAndWait(MonitorClient client)
    {
        Driver.Signal(Id, 9, all: false);
        return client.Wait(Bound).ExitCode;
    }

    /// <summary>Polls (bounded) until <paramref name="condition"/> holds.</summary>
    public static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"waited {Bound.TotalSeconds:0} s for {what}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Whether a process whose command line mentions this test's work directory runs.</summary>
    public bool MonitorProcessRuns() => Directory.EnumerateDirectories("/proc").Any(dir =>
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(ContainerDir);
        }
        catch (IOException)
        {
            return false;
        }
    });

    public void Dispose()
    {
        try
        {
            // A test that failed halfway leaves a running container: end it, the monitor then cleans up.
            if (File.Exists(Request.PidFile))
            {
                try { Driver.Signal(Id, 9, all: true); } catch (ExecDriverException) { }
                try { Client?.Wait(Bound); } catch (MonitorException) { }
            }
            WaitUntil(() => !MonitorProcessRuns(), "the monitor to exit");
            Assert.False(File.Exists(Request.Socket), $"{Request.Socket} is left behind");
            Assert.False(File.Exists(Request.PidFile), $"{Request.PidFile} is left behind");
            _leaks.AssertClean(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(Work, recursive: true);
        }
    }
}

/// <summary>Reads Docker's multiplexed frames ([stream,0,0,0,len BE32] + payload) until EOF.</summary>
public static class FrameReader
{
    public static List<(byte Stream, string Text)> ReadAll(Stream stream, Func<List<(byte, string)>, bool>? until = null)
    {
        var frames = new List<(byte, string)>();
        var header = new byte[8];
        while (ReadExactly(stream, header))
        {
            var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4))];
            Assert.True(ReadExactly(stream, payload), "the stream ended inside a frame");
            frames.Add((header[0], Encoding.UTF8.GetString(payload)));
            if (until?.Invoke(frames) == true) break;
        }
        return frames;
    }

    /// <summary>A terminal's stream: raw bytes until EOF.</summary>
    public static string ReadRaw(Stream stream)
    {
        var output = new MemoryStream();
        stream.CopyTo(output);
        return Encoding.UTF8.GetString(output.ToArray());
    }

    public static string Joined(List<(byte Stream, string Text)> frames, byte which) =>
        string.Concat(frames.Where(f => f.Stream == which).Select(f => f.Text));

    static bool ReadExactly(Stream stream, byte[] buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = stream.Read(buffer, done, buffer.Length - done);
            if (n == 0)
            {
                Assert.True(done == 0, "the stream ended inside a frame header");
                return false;
            }
            done += n;
        }
        return true;
    }
}
