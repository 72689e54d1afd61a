using System.Diagnostics;
using Xunit.Abstractions;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// Runs the runtime binary with <c>--root &lt;stateRoot&gt;</c> and a timeout. Output goes to files, not pipes:
/// a container started by <c>create</c> or <c>run -d</c> inherits the runtime's stdio and would keep a pipe open
/// long after the runtime itself exited. <paramref name="binary"/> overrides <see cref="RuntimeBinary.Path"/> (a copy
/// that an attack test may damage).
/// </summary>
public sealed class RuntimeRunner(string stateRoot, string ioDirectory, ITestOutputHelper output, string? binary = null)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private int _invocation;

    public string StateRoot { get; } = stateRoot;

    public RuntimeResult Run(params string[] arguments) => Run(arguments, globalArguments: null);

    public RuntimeResult Run(IReadOnlyList<string> arguments, IReadOnlyList<string>? globalArguments, TimeSpan? timeout = null) =>
        RunAsync(arguments, globalArguments, timeout).GetAwaiter().GetResult();

    /// <summary>Runs the runtime with extra open fds and environment variables (see <see cref="RuntimeInvocation"/>).</summary>
    public RuntimeResult Run(IReadOnlyList<string> arguments, RuntimeInvocation invocation) =>
        RunAsync(arguments, globalArguments: null, timeout: null, invocation).GetAwaiter().GetResult();

    /// <summary>Runs the runtime with <paramref name="input"/> on its stdin (e.g. `update -r -`).</summary>
    public RuntimeResult RunWithInput(string input, params string[] arguments)
    {
        Directory.CreateDirectory(ioDirectory);
        var inputPath = Path.Combine(ioDirectory, $"stdin-{Interlocked.Increment(ref _invocation)}");
        File.WriteAllText(inputPath, input);
        return RunAsync(arguments, null, null, null, inputPath).GetAwaiter().GetResult();
    }

    public async Task<RuntimeResult> RunAsync(IReadOnlyList<string> arguments, IReadOnlyList<string>? globalArguments = null, TimeSpan? timeout = null,
        RuntimeInvocation? invocation = null, string stdinPath = "/dev/null")
    {
        Directory.CreateDirectory(ioDirectory);
        var n = Interlocked.Increment(ref _invocation);
        var stdoutPath = Path.Combine(ioDirectory, $"{n}.out");
        var stderrPath = Path.Combine(ioDirectory, $"{n}.err");

        var fullArguments = new List<string> { "--root", StateRoot };
        if (globalArguments is not null)
            fullArguments.AddRange(globalArguments);
        fullArguments.AddRange(arguments);

        invocation ??= RuntimeInvocation.Plain;
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var (name, value) in invocation.Environment)
            start.Environment[name] = value;
        // The shell opens each inherited file read-only on fd 3, 4, ... (no close-on-exec) and then becomes the
        // runtime, so $$ is the runtime's pid (LISTEN_PID).
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(
            "out=$1 err=$2 in=$3 n=$4; shift 4; fd=3; " +
            "while [ \"$n\" -gt 0 ]; do eval \"exec $fd<\\\"\\$1\\\"\"; shift; fd=$((fd+1)); n=$((n-1)); done; " +
            (invocation.ListenPidIsRuntime ? "LISTEN_PID=$$; export LISTEN_PID; " : "") +
            "exec \"$@\" <\"$in\" >\"$out\" 2>\"$err\"");
        start.ArgumentList.Add("bt-io");
        start.ArgumentList.Add(stdoutPath);
        start.ArgumentList.Add(stderrPath);
        start.ArgumentList.Add(stdinPath);
        start.ArgumentList.Add(invocation.InheritedFiles.Count.ToString());
        foreach (var file in invocation.InheritedFiles)
            start.ArgumentList.Add(file);
        start.ArgumentList.Add(binary ?? RuntimeBinary.Path);
        foreach (var argument in fullArguments)
            start.ArgumentList.Add(argument);

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start /bin/sh");
        var timedOut = false;
        using (var cts = new CancellationTokenSource(timeout ?? DefaultTimeout))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        stopwatch.Stop();

        var result = new RuntimeResult(
            fullArguments,
            process.ExitCode,
            ReadAllOrEmpty(stdoutPath),
            ReadAllOrEmpty(stderrPath),
            stopwatch.Elapsed,
            timedOut);
        Log(result.ToString());
        return result;
    }

    private void Log(string text)
    {
        try
        {
            output.WriteLine(text);
        }
        catch (InvalidOperationException)
        {
            // The test already finished (a background call outlived it); nothing to report to.
        }
    }

    private static string ReadAllOrEmpty(string path)
    {
        try
        {
            // Shared read: a detached container may still hold the file open for writing.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }
}
