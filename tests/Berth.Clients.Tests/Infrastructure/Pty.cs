namespace Berth.Clients.Tests.Infrastructure;

/// <summary>
/// Runs a client command with a pseudo-terminal as its stdin/stdout, through util-linux <c>script -qec</c>:
/// the client sees a real terminal (as under an interactive shell), <paramref name="input"/> is typed into it,
/// and <c>script -e</c> exits with the client's exit code.
/// </summary>
public static class Pty
{
    public static ToolResult Run(string workDirectory, string file, IEnumerable<string> arguments, ToolOptions? options = null,
        Action<string>? log = null)
    {
        var command = Shell.Join(arguments.Prepend(file));
        var result = Tool.Run(workDirectory, "script", ["-qec", command, "/dev/null"], options, log);
        return result with { Stdout = result.Stdout.Replace("\r", "") };
    }

    /// <summary>
    /// The lines that start with <paramref name="marker"/>: what the container printed, without the terminal's echo of
    /// the typed input (whose place in the stream depends on timing).
    /// </summary>
    public static string MarkedLines(string output, string marker = "OUT:") =>
        string.Join('\n', output.Split('\n').Where(l => l.StartsWith(marker, StringComparison.Ordinal)));
}
