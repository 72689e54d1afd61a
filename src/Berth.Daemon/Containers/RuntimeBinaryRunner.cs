using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Berth.Daemon.Containers;

/// <summary>
/// STOPGAP until the monitor (docs/engine.md) is wired in: runs an OCI runtime binary (berth-runtime or runc) in
/// the foreground (<c>run --pid-file</c>) as berthd's child, so that its exit status is the container's, and pumps
/// the container's stdout and stderr into the json-file log. Containers do not survive a berthd restart
/// attached: <see cref="Restore"/> only reports whether the runtime still knows them.
/// Anything the runtime writes to stderr before the pid file exists is its error, not the container's output.
/// </summary>
public sealed class RuntimeBinaryRunner(string name, string binary, string root) : IContainerRunner
{
    static readonly TimeSpan StartBound = TimeSpan.FromSeconds(60);
    readonly ConcurrentDictionary<string, Task<ContainerExit>> _exits = new(StringComparer.Ordinal);

    public string Name => name;

    public async Task<int> StartAsync(ContainerLaunch launch, CancellationToken ct)
    {
        if (launch.Terminal || launch.OpenStdin)
            throw new ContainerRunnerException("a terminal or an open stdin needs berth-monitor, which berthd does not launch yet");
        Directory.CreateDirectory(root);
        string pidFile = Path.Combine(launch.Bundle, "init.pid");
        File.Delete(pidFile);
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["--root", root, "run", "--bundle", launch.Bundle, "--pid-file", pidFile, launch.Id])
            info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new ContainerRunnerException($"cannot start {binary}");
        process.StandardInput.Close();

        var decided = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new JsonFileLog(launch.LogPath);
        var runtimeErrors = new StringBuilder();
        var stdout = Pump(process.StandardOutput.BaseStream, "stdout", log, decided.Task, null);
        var stderr = Pump(process.StandardError.BaseStream, "stderr", log, decided.Task, runtimeErrors);

        var deadline = Stopwatch.StartNew();
        while (!File.Exists(pidFile) && !process.HasExited)
        {
            if (deadline.Elapsed > StartBound)
            {
                process.Kill(entireProcessTree: true);
                decided.TrySetResult(false);
                throw new ContainerRunnerException($"{binary} did not start container {launch.Id} within {StartBound.TotalSeconds} s");
            }
            await Task.Delay(10, CancellationToken.None);
        }
        int pid = ReadPid(pidFile);
        if (pid <= 0)
        {
            // The runtime ended before it made the container: its stderr is why.
            await process.WaitForExitAsync(CancellationToken.None);
            decided.TrySetResult(false);
            await Task.WhenAll(stdout, stderr);
            int code = process.ExitCode;
            process.Dispose();
            log.Dispose();
            string message;
            lock (runtimeErrors) message = runtimeErrors.ToString().Trim();
            throw new ContainerRunnerException(message.Length > 0 ? message : $"{binary} run exited with {code} before it created the container");
        }
        decided.TrySetResult(true);
        _exits[launch.Id] = WaitExitAsync(process, stdout, stderr, log, launch.ExitFile);
        return pid;
    }

    static int ReadPid(string pidFile)
    {
        for (int i = 0; i < 50; i++)
        {
            try
            {
                if (int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid)) return pid;
            }
            catch (FileNotFoundException)
            {
                return 0;
            }
            Thread.Sleep(10); // written but not yet filled
        }
        return 0;
    }

    static async Task<ContainerExit> WaitExitAsync(Process process, Task stdout, Task stderr, JsonFileLog log, string exitFile)
    {
        await process.WaitForExitAsync(CancellationToken.None);
        // Output still buffered in the pipes is the container's last words: drain it, bounded (a daemonized child may keep a pipe open).
        await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(TimeSpan.FromSeconds(5)));
        var exit = new ContainerExit(process.ExitCode, DateTimeOffset.UtcNow);
        process.Dispose();
        log.Dispose();
        File.WriteAllText(exitFile, $"{{\"ExitCode\":{exit.ExitCode},\"FinishedAt\":\"{ContainerJson.Rfc3339Nano(exit.FinishedAt)}\",\"OOMKilled\":false,\"Error\":\"\"}}");
        return exit;
    }

    /// <summary>Copies one stream into the log line by line; until the start is decided, and after a failed one, into <paramref name="hold"/>.</summary>
    static Task Pump(Stream source, string streamName, JsonFileLog log, Task<bool> decided, StringBuilder? hold) => Task.Run(async () =>
    {
        var buffer = new byte[32 * 1024];
        var pending = new MemoryStream();
        while (true)
        {
            int n;
            try
            {
                n = await source.ReadAsync(buffer);
            }
            catch (IOException)
            {
                n = 0;
            }
            bool started = hold is null || await decided;
            if (!started)
            {
                if (n == 0) return;
                lock (hold!) hold.Append(Encoding.UTF8.GetString(buffer, 0, n));
                continue;
            }
            if (n == 0)
            {
                if (pending.Length > 0) log.Write(streamName, pending.ToArray());
                return;
            }
            int start = 0;
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                pending.Write(buffer, start, i + 1 - start);
                log.Write(streamName, pending.ToArray());
                pending.SetLength(0);
                start = i + 1;
            }
            pending.Write(buffer, start, n - start);
        }
    });

    /// <summary>The exit of a container this runner started; of one from before a restart, when the runtime no longer runs it (code unknown: 255).</summary>
    public Task<ContainerExit> WaitAsync(string id) => _exits.GetOrAdd(id, PollUntilGoneAsync);

    async Task<ContainerExit> PollUntilGoneAsync(string id)
    {
        while (Restore(id) is not null) await Task.Delay(TimeSpan.FromSeconds(1));
        return new ContainerExit(255, DateTimeOffset.UtcNow, Error: "berthd restarted while the container ran: its exit code is unknown");
    }

    public void Signal(string id, int signal, bool all)
    {
        var result = Run(["--root", root, "kill", .. all ? (string[])["--all"] : [], id, signal.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (result.ExitCode != 0) throw new ContainerRunnerException(result.Stderr.Trim());
    }

    public void Delete(string id, bool force)
    {
        _exits.TryRemove(id, out _);
        var result = Run(["--root", root, "delete", .. force ? (string[])["--force"] : [], id]);
        if (result.ExitCode != 0 && !result.Stderr.Contains("does not exist", StringComparison.Ordinal))
            throw new ContainerRunnerException(result.Stderr.Trim());
    }

    public int? Restore(string id)
    {
        var result = Run(["--root", root, "state", id]);
        if (result.ExitCode != 0) return null;
        var state = JsonSerializer.Deserialize(result.Stdout, ContainerJson.Context.RuntimeStateOutput);
        return state is { Status: "running" or "paused" or "created", Pid: > 0 } ? state.Pid : null;
    }

    (int ExitCode, string Stdout, string Stderr) Run(string[] args)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new ContainerRunnerException($"cannot start {binary}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new ContainerRunnerException($"{binary} {string.Join(' ', args)} did not finish within 60 s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>
/// dockerd's json-file log, appended line by line: {"log":"...\n","stream":"stdout","time":"RFC3339Nano"}.
/// (Stopgap writer; the monitor's JsonFileLogWriter replaces it, with rotation and 16 KiB splitting.)
/// </summary>
public sealed class JsonFileLog(string path) : IDisposable
{
    readonly FileStream _file = new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
    bool _closed;

    public void Write(string stream, byte[] line)
    {
        var entry = new JsonLogLine { Log = Encoding.UTF8.GetString(line), Stream = stream, Time = ContainerJson.Rfc3339Nano(DateTimeOffset.UtcNow) };
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(entry, ContainerJson.Context.JsonLogLine);
        lock (_file)
        {
            if (_closed) return;
            _file.Write(bytes);
            _file.WriteByte((byte)'\n');
            _file.Flush();
        }
    }

    public void Dispose()
    {
        lock (_file)
        {
            _closed = true;
            _file.Dispose();
        }
    }
}
