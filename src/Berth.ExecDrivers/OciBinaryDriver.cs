using System.Text;
using System.Text.Json;
using Berth.Linux;

namespace Berth.ExecDrivers;

/// <summary>
/// An OCI runtime binary with runc's command line (runc, crun, berth-runtime), run as
/// `PATH --root ROOT --log FILE --log-format json VERB ...`. A failure's text is the runtime's own: the last error
/// `msg` of its JSON log, else its stderr. Every run is bounded.
/// </summary>
public sealed class OciBinaryDriver(string name, string path, string root) : IExecDriver
{
    /// <summary>How long one command may take (create and exec set up namespaces and mounts on a loaded machine).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(2);

    public string Name { get; } = name;
    public string Path { get; } = path;
    public string Root { get; } = root;

    public int Create(string id, string bundle, DriverStdio stdio) =>
        RunReportingPid(id, ["create", "--bundle", bundle], stdio, $"{Name} create {id}");

    public void Start(string id) => Run(["start", id]);
    public void Signal(string id, int signal, bool all) => Run(all ? ["kill", "--all", id, signal.ToString()] : ["kill", id, signal.ToString()]);
    public void Delete(string id, bool force) => Run(force ? ["delete", "--force", id] : ["delete", id]);
    public void Pause(string id) => Run(["pause", id]);
    public void Resume(string id) => Run(["resume", id]);

    public IReadOnlyList<int> Pids(string id)
    {
        string json = Run(["ps", "--format", "json", id], capture: true);
        try
        {
            return JsonSerializer.Deserialize(json, DriverJsonContext.Default.ListInt32) ?? [];
        }
        catch (JsonException e)
        {
            throw new ExecDriverException($"{Name} ps {id} printed what is not a JSON list of pids: {e.Message}");
        }
    }

    public Cgroups.CgroupStats Stats(string id)
    {
        string json = Run(["events", "--stats", id], capture: true);
        try
        {
            return JsonSerializer.Deserialize(json, Cgroups.CgroupJsonContext.Default.StatsEvent)?.Data
                ?? throw new ExecDriverException($"{Name} events --stats {id} printed no stats");
        }
        catch (JsonException e)
        {
            throw new ExecDriverException($"{Name} events --stats {id} printed what is not a stats event: {e.Message}");
        }
    }

    public void Update(string id, Oci.LinuxResources resources) =>
        Run(["update", "--resources", "-", id], input: JsonSerializer.SerializeToUtf8Bytes(resources, Oci.OciJsonContext.Default.LinuxResources));

    public int Exec(string id, Oci.Process process, DriverStdio stdio)
    {
        string processFile = TemporaryName(id, "process.json");
        try
        {
            File.WriteAllBytes(processFile, JsonSerializer.SerializeToUtf8Bytes(process, Oci.OciJsonContext.Default.Process));
            return RunReportingPid(id, ["exec", "--detach", "--process", processFile], stdio, $"{Name} exec in {id}");
        }
        finally
        {
            File.Delete(processFile);
        }
    }

    /// <summary>create or exec: with --pid-file (and --console-socket for a terminal); returns the pid it wrote.</summary>
    int RunReportingPid(string id, List<string> args, DriverStdio stdio, string what)
    {
        string pidFile = TemporaryName(id, "pid");
        try
        {
            args.AddRange(["--pid-file", pidFile]);
            if (stdio.ConsoleSocket is { } socket) args.AddRange(["--console-socket", socket]);
            args.Add(id);
            Run(args, stdio);
            string text = File.Exists(pidFile) ? File.ReadAllText(pidFile).Trim() : "";
            return int.TryParse(text, out int pid) && pid > 0 ? pid
                : throw new ExecDriverException($"{what} succeeded but wrote no pid to its --pid-file ({(text.Length == 0 ? "empty" : text)})");
        }
        finally
        {
            File.Delete(pidFile);
        }
    }

    string TemporaryName(string id, string what)
    {
        Directory.CreateDirectory(Root);
        return System.IO.Path.Combine(Root, $".{id}.{what}.{Environment.ProcessId}-{Random.Shared.Next():x8}");
    }

    string Run(List<string> args, DriverStdio? stdio = null, bool capture = false, byte[]? input = null)
    {
        string log = TemporaryName(args[^1], "log");
        string verb = $"{Name} {args[0]} {args[^1]}";
        Fd? stdoutRead = null, stdoutWrite = null, stdinRead = null, stdinWrite = null;
        // stderr goes to an unnamed file, read after the exit: nothing to drain while the runtime runs.
        var stderr = new Fd(Libc.memfd_create("oci-runtime-stderr", 1 /* MFD_CLOEXEC */));
        try
        {
            if (stderr.IsInvalid) throw new ExecDriverException($"{verb}: {LinuxException.FromLastError("memfd_create").Message}");
            if (capture) (stdoutRead, stdoutWrite) = Sys.Pipe();
            if (input is not null) (stdinRead, stdinWrite) = Sys.Pipe();
            var io = stdio is { ConsoleSocket: null }
                ? (stdio.Stdin, stdio.Stdout, stdio.Stderr)
                : (stdinRead?.Value ?? -1, stdoutWrite?.Value ?? -1, stderr.Value);
            using var child = ChildProcess.Start(Path, ["--root", Root, "--log", log, "--log-format", "json", .. args], io);
            stdoutWrite?.Dispose();
            stdinRead?.Dispose();
            if (input is not null)
            {
                Sys.WriteAll(stdinWrite!, input);
                stdinWrite!.Dispose();
            }
            var deadline = DateTime.UtcNow + CommandTimeout;
            string output = capture ? ReadToEnd(stdoutRead!, deadline, verb, child) : "";
            var exit = child.Wait(Remaining(deadline));
            if (exit is null)
            {
                child.Kill();
                throw new ExecDriverException($"{verb} did not finish within {CommandTimeout.TotalSeconds:0} s");
            }
            if (exit != 0) throw new ExecDriverException(ErrorText(log, stderr) ?? $"{verb} failed with exit status {exit}");
            return output;
        }
        finally
        {
            stderr.Dispose();
            stdoutRead?.Dispose();
            stdoutWrite?.Dispose();
            stdinRead?.Dispose();
            stdinWrite?.Dispose();
            File.Delete(log);
        }
    }

    static TimeSpan Remaining(DateTime deadline) => deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    static string ReadToEnd(Fd fd, DateTime deadline, string verb, ChildProcess child)
    {
        var output = new MemoryStream();
        var buffer = new byte[16384];
        for (;;)
        {
            if (!Sys.WaitReadable(fd, (int)Remaining(deadline).TotalMilliseconds))
            {
                child.Kill();
                throw new ExecDriverException($"{verb} did not finish its output within the command's bound");
            }
            int n = Sys.Read(fd, buffer);
            if (n <= 0) return Encoding.UTF8.GetString(output.ToArray());
            output.Write(buffer, 0, n);
        }
    }

    /// <summary>The runtime's own words: the last error in its JSON log, else its stderr; null when it said nothing.</summary>
    static string? ErrorText(string log, Fd stderr)
    {
        string? message = null;
        if (File.Exists(log))
        {
            foreach (var line in File.ReadLines(log))
            {
                try
                {
                    var entry = JsonSerializer.Deserialize(line, DriverJsonContext.Default.RuntimeLogEntry);
                    if (entry is { Level: "error" or "fatal", Msg.Length: > 0 }) message = entry.Msg;
                }
                catch (JsonException)
                {
                    // Not a JSON line (a panic's trace): stderr has it.
                }
            }
        }
        if (message is not null) return message;
        using var copy = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(stderr.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
        copy.Position = 0;
        string text = new StreamReader(copy).ReadToEnd().Trim();
        return text.Length > 0 ? text : null;
    }
}

/// <summary>One line of runc's --log-format json.</summary>
public sealed class RuntimeLogEntry
{
    [System.Text.Json.Serialization.JsonPropertyName("level")] public string? Level { get; set; }
    [System.Text.Json.Serialization.JsonPropertyName("msg")] public string? Msg { get; set; }
}
