using System.Diagnostics;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>A background daemon started by a test (containerd, dockerd), its output in a log file, stopped by its pid.</summary>
public sealed class Daemon : IDisposable
{
    private readonly Process _process;

    private Daemon(Process process, string logPath, string commandLine)
    {
        _process = process;
        LogPath = logPath;
        CommandLine = commandLine;
    }

    public string LogPath { get; }
    public string CommandLine { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public static Daemon Start(string file, IReadOnlyList<string> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >\"$log\" 2>&1");
        start.ArgumentList.Add("daemon-io");
        start.ArgumentList.Add(logPath);
        start.ArgumentList.Add(file);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        return new Daemon(process, logPath, Shell.Join(arguments.Prepend(file)));
    }

    public string LogTail(int lines = 30)
    {
        var all = File.Exists(LogPath) ? File.ReadAllLines(LogPath) : [];
        return string.Join('\n', all.TakeLast(lines));
    }

    /// <summary>Waits until <paramref name="ready"/> holds; a daemon that dies or never gets ready throws with its log.</summary>
    public void WaitUntilReady(Func<bool> ready, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!ready())
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"`{CommandLine}` exited with {_process.ExitCode} before it was ready:\n{LogTail()}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"`{CommandLine}` not ready after {timeout.TotalSeconds}s:\n{LogTail()}");
            Thread.Sleep(100);
        }
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>; returns false when it had to be killed.</summary>
    public bool Stop(TimeSpan grace)
    {
        if (_process.HasExited)
            return true;
        Tool.Run("/tmp", "kill", ["-TERM", _process.Id.ToString()]);
        if (_process.WaitForExit(grace))
            return true;
        _process.Kill();
        _process.WaitForExit();
        return false;
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }
}
