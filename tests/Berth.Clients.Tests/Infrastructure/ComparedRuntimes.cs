namespace Berth.Clients.Tests.Infrastructure;

/// <summary>An OCI runtime binary that a client is pointed at.</summary>
public sealed record RuntimeUnderTest(string Name, string Path)
{
    public override string ToString() => $"{Name} ({Path})";
}

/// <summary>
/// The two runtimes every scenario runs on: runc (<c>RUNC</c>, else /usr/sbin/runc), the reference, and berth-runtime
/// (<c>BERTH_RUNTIME</c>, else the repository's artifacts/publish/berth-runtime).
/// </summary>
public static class ComparedRuntimes
{
    public static RuntimeUnderTest Runc { get; } = new("runc", Environment.GetEnvironmentVariable("RUNC") is { Length: > 0 } runc ? runc : "/usr/sbin/runc");
    public static RuntimeUnderTest Berth { get; } = new("berth-runtime", ResolveBerth());

    /// <summary>A missing binary fails the test (a broken setup), it does not skip it.</summary>
    public static void EnsureExist()
    {
        foreach (var runtime in new[] { Runc, Berth })
        {
            if (!File.Exists(runtime.Path))
                throw new InvalidOperationException($"{runtime.Name} not found at {runtime.Path}: publish berth-runtime (scripts/build.sh) or set BERTH_RUNTIME / RUNC");
        }
    }

    private static string ResolveBerth() => Published("BERTH_RUNTIME", "berth-runtime");

    /// <summary>A binary of this repository: <paramref name="variable"/> when set, else artifacts/publish/<paramref name="binary"/> above the tests.</summary>
    public static string Published(string variable, string binary)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            return System.IO.Path.GetFullPath(fromEnvironment);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Berth.slnx")))
                return System.IO.Path.Combine(dir.FullName, "artifacts", "publish", binary);
        }
        throw new InvalidOperationException($"cannot find Berth.slnx above {AppContext.BaseDirectory}; set {variable}");
    }
}
