using System.Diagnostics;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>What one client command did: its exit code and its output.</summary>
public sealed record ToolResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"`{CommandLine}` exited {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Options for <see cref="Tool.Run"/>.</summary>
public sealed record ToolOptions
{
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public string? Stdin { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Runs a client command to completion. Output goes to files, not pipes: a client that leaves a daemon or a
/// container behind (podman run -d starts conmon) would otherwise keep the pipe open after it exited.
/// </summary>
public static class Tool
{
    private static int _invocation;

    public static ToolResult Run(string workDirectory, string file, IEnumerable<string> arguments, ToolOptions? options = null, Action<string>? log = null)
    {
        options ??= new ToolOptions();
        var io = Path.Combine(workDirectory, "io");
        Directory.CreateDirectory(io);
        var n = Interlocked.Increment(ref _invocation);
        var stdoutPath = Path.Combine(io, $"{n}.out");
        var stderrPath = Path.Combine(io, $"{n}.err");
        var stdinPath = "/dev/null";
        if (options.Stdin is not null)
        {
            stdinPath = Path.Combine(io, $"{n}.in");
            File.WriteAllText(stdinPath, options.Stdin);
        }

        var args = arguments.ToList();
        var commandLine = string.Join(' ', args.Prepend(file).Select(Shell.Quote));
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var (name, value) in options.Environment)
            start.Environment[name] = value;
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("out=$1 err=$2 in=$3; shift 3; exec \"$@\" <\"$in\" >\"$out\" 2>\"$err\"");
        start.ArgumentList.Add("client-io");
        start.ArgumentList.Add(stdoutPath);
        start.ArgumentList.Add(stderrPath);
        start.ArgumentList.Add(stdinPath);
        start.ArgumentList.Add(file);
        foreach (var argument in args)
            start.ArgumentList.Add(argument);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        if (!process.WaitForExit(options.Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            var partial = new ToolResult(commandLine, -1, File.ReadAllText(stdoutPath), File.ReadAllText(stderrPath));
            log?.Invoke($"TIMEOUT after {options.Timeout.TotalSeconds}s: {partial}");
            throw new TimeoutException($"`{commandLine}` did not finish within {options.Timeout.TotalSeconds}s\n{partial}");
        }
        var result = new ToolResult(commandLine, process.ExitCode, File.ReadAllText(stdoutPath), File.ReadAllText(stderrPath));
        log?.Invoke($"$ {commandLine}\n  -> {result.ExitCode}" +
                    (result.Stdout.Length > 0 ? $"\n  stdout: {result.Stdout.TrimEnd()}" : "") +
                    (result.Stderr.Length > 0 ? $"\n  stderr: {result.Stderr.TrimEnd()}" : ""));
        return result;
    }

    /// <summary>Like <see cref="Run"/>, but a non-zero exit throws with the command's output.</summary>
    public static ToolResult Check(string workDirectory, string file, IEnumerable<string> arguments, ToolOptions? options = null, Action<string>? log = null)
    {
        var result = Run(workDirectory, file, arguments, options, log);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"client command failed: {result}");
        return result;
    }
}

/// <summary>POSIX shell quoting, for commands handed to <c>script -c</c> and for readable logs.</summary>
public static class Shell
{
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@%+".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''") + "'";

    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(Quote));
}
