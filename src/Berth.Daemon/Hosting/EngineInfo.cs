using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Berth.Daemon.Hosting;

/// <summary>berthd's own version facts, and the OCI runtimes it knows, as /version and /info report them.</summary>
public sealed record EngineInfo(string Version, string GitCommit, string BuildTime, string DotnetVersion,
    IReadOnlyList<KnownRuntime> Runtimes)
{
    public const string DefaultRuntime = "berth-runtime";

    /// <summary>This build's facts; the runtimes are probed in the background (see <see cref="ProbedRuntimes"/>).</summary>
    public static EngineInfo Detect()
    {
        var (version, commit) = BuildVersion();
        return new EngineInfo(
            Version: version,
            GitCommit: commit,
            BuildTime: typeof(EngineInfo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "BerthCommitTime")?.Value ?? "",
            DotnetVersion: RuntimeInformation.FrameworkDescription,
            Runtimes: new ProbedRuntimes(DefaultRuntime, "runc"));
    }

    /// <summary>The version and commit this build was made from ("0.1.0+abc": "0.1.0", "abc").</summary>
    public static (string Version, string GitCommit) BuildVersion()
    {
        string full = typeof(EngineInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        int plus = full.IndexOf('+');
        return plus < 0 ? (full, "") : (full[..plus], full[(plus + 1)..]);
    }
}

/// <summary>
/// The runtimes berthd knows, found by a probe started at construction and waited for on first use. Each probe
/// runs <c>NAME --version</c>: done inline, the two processes held the socket back (under load, most of start-up).
/// </summary>
public sealed class ProbedRuntimes(params string[] names) : IReadOnlyList<KnownRuntime>
{
    readonly Task<KnownRuntime[]> _probe = Task.Run(() => Array.ConvertAll(names, KnownRuntime.Find));

    KnownRuntime[] Found => _probe.GetAwaiter().GetResult();

    public int Count => Found.Length;
    public KnownRuntime this[int index] => Found[index];
    public IEnumerator<KnownRuntime> GetEnumerator() => ((IEnumerable<KnownRuntime>)Found).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>An OCI runtime: where it is (null when not found) and what its <c>--version</c> says.</summary>
public sealed record KnownRuntime(string Name, string? Path, string? Version, string? Commit)
{
    /// <summary>Next to berthd first (a build or install puts them together), then PATH.</summary>
    public static KnownRuntime Find(string name)
    {
        string? path = Candidates(name).FirstOrDefault(File.Exists);
        if (path is null) return new KnownRuntime(name, null, null, null);
        var (version, commit) = AskVersion(path);
        return new KnownRuntime(name, path, version, commit);
    }

    static IEnumerable<string> Candidates(string name)
    {
        yield return System.IO.Path.Combine(AppContext.BaseDirectory, name);
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
            if (dir.Length > 0) yield return System.IO.Path.Combine(dir, name);
    }

    /// <summary>runc's shape: "NAME version X" then "commit: C". Unknown shapes give nulls, never a failure.</summary>
    static (string? Version, string? Commit) AskVersion(string path)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(path, "--version")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null) return (null, null);
            string output = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(2000))
            {
                process.Kill();
                return (null, null);
            }
            string? version = null, commit = null;
            foreach (string line in output.Split('\n'))
            {
                int at = line.IndexOf(" version ", StringComparison.Ordinal);
                if (version is null && at >= 0) version = line[(at + " version ".Length)..].Trim();
                else if (line.StartsWith("commit:", StringComparison.Ordinal)) commit = line["commit:".Length..].Trim();
            }
            return (version, commit);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            return (null, null);
        }
    }
}
