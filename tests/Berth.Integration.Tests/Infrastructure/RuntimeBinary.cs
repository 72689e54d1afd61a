namespace Berth.Integration.Tests.Infrastructure;

/// <summary>Which OCI runtime binary the suite drives: <c>BERTH_RUNTIME</c>, else the published berth-runtime.</summary>
public static class RuntimeBinary
{
    public const string EnvironmentVariable = "BERTH_RUNTIME";

    public static string Path { get; } = Resolve();

    private static string Resolve()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            return System.IO.Path.GetFullPath(fromEnvironment);

        // Walk up from the test assembly to the repository root (the directory holding Berth.slnx).
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Berth.slnx")))
                return System.IO.Path.Combine(dir.FullName, "artifacts", "publish", "berth-runtime");
        }
        throw new InvalidOperationException(
            $"cannot find Berth.slnx above {AppContext.BaseDirectory}; set {EnvironmentVariable} to the runtime binary");
    }

    /// <summary>Fails the test (not skips it) when the binary is missing: a missing runtime is a broken setup.</summary>
    public static void EnsureExists()
    {
        if (!File.Exists(Path))
            throw new InvalidOperationException(
                $"runtime binary not found at {Path}: publish berth-runtime or set {EnvironmentVariable}");
    }
}
