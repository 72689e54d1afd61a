using System.Diagnostics;

namespace Berth.Daemon.Tests.Infrastructure;

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
}

/// <summary>The binaries under test and the tools that check them.</summary>
public static class Tools
{
    /// <summary>The repository root: the directory holding Berth.slnx above the test's output.</summary>
    static readonly string RepoRoot = FindRepoRoot();

    /// <summary>berthd: $BERTHD, else the NativeAOT binary scripts/build.sh publishes.</summary>
    public static string Berthd => Published("BERTHD", "berthd");

    /// <summary>berth: $BERTH_CLI, else the NativeAOT binary scripts/build.sh publishes.</summary>
    public static string Berth => Published("BERTH_CLI", "berth");

    /// <summary>The binary named by <paramref name="variable"/>, else artifacts/publish/<paramref name="name"/>; a missing one fails the test.</summary>
    static string Published(string variable, string name)
    {
        string path = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } p ? p : Path.Combine(RepoRoot, "artifacts/publish", name);
        return File.Exists(path) ? path
            : throw new FileNotFoundException($"{name} not found at {path}: publish it (scripts/build.sh) or set {variable}", path);
    }

    public static bool IsRoot => Environment.UserName == "root" || global::Berth.Linux.Libc.geteuid() == 0;

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Berth.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Berth.slnx above {AppContext.BaseDirectory}");
    }

    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>Runs to completion (killed after <paramref name="timeoutSeconds"/>); stdin is empty unless given.</summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, int timeoutSeconds = 60)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args) info.ArgumentList.Add(a);
        if (env is not null)
            foreach (var (k, v) in env) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutSeconds} s");
        }
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>curl over the unix socket: -i includes the status line and headers in Stdout.</summary>
    public static ProcessResult Curl(string socket, params string[] args) =>
        Run("curl", ["-sS", "--unix-socket", socket, .. args]);
}
