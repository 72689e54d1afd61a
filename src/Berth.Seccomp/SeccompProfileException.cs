namespace Berth.Seccomp;

/// <summary>A seccomp profile that cannot be compiled; <see cref="Path"/> is the JSON path at fault.</summary>
public sealed class SeccompProfileException(string path, string problem) : Exception($"{path}: {problem}")
{
    /// <summary>Like <c>$.linux.seccomp.syscalls[3].action</c>.</summary>
    public string Path { get; } = path;
    public string Problem { get; } = problem;
}
