namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// How the runtime process is started beyond its arguments: files it inherits open (read-only) as fd 3, 4, ...,
/// extra environment variables, and whether LISTEN_PID is set to the runtime's own pid (socket activation).
/// </summary>
public sealed record RuntimeInvocation
{
    public static readonly RuntimeInvocation Plain = new();

    public IReadOnlyList<string> InheritedFiles { get; init; } = [];

    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public bool ListenPidIsRuntime { get; init; }
}
