using System.Text.RegularExpressions;
using Berth.Integration.Tests.Infrastructure;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>
/// What `run` may answer to any config.json: exit 0 (the container ran), a container that ended by a signal of its own
/// (a seccomp or rlimit the config asked for), or a non-zero exit with one line of error that names a JSON path or a
/// file, and no stack trace, resource key or .NET type. Never a hang, never something left behind.
/// </summary>
public static partial class FuzzOracle
{
    /// <summary>
    /// Where in the config or on disk: a JSON path ($.process.args[0]), config.json, a spec section, a path, or the
    /// program named in runc's words (exec: "NAME": ..., which docker turns into exit 127).
    /// </summary>
    [GeneratedRegex(@"config\.json|\$[.\[]|\b(process|linux|root|mounts|hooks|hostname|domainname|annotations|ociVersion)\b|/[\w.-]|^exec: """)]
    private static partial Regex NamesWhere();

    /// <summary>A double-quoted value, with its escapes.</summary>
    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex Quoted();

    /// <summary>The verdict on one run: null when it kept the rules, else why not.</summary>
    public static string? Judge(RuntimeResult result, IReadOnlyList<string> leaks)
    {
        if (result.TimedOut) return "hung: did not end within the bound";
        if (leaks.Count > 0) return "left behind: " + string.Join("; ", leaks);
        if (result.ExitCode == 0) return null;
        string error = result.Stderr.Trim();
        // A value the error quotes from the config is the fuzzer's own ("CAP_1e999ILL" is no resource key of .NET's).
        var problems = ErrorLines.Problems(Quoted().Replace(error, "\"...\""));
        if (problems.Count > 0) return "unclear error: " + string.Join(", ", problems);
        if (error.Length == 0)
            return result.ExitCode > 128 ? null : $"exit {result.ExitCode} without an error";
        if (error.Contains('\n')) return "an error of more than one line";
        if (!NamesWhere().IsMatch(error)) return "an error that names no JSON path or file";
        return null;
    }

    /// <summary>The kind of answer, to count them: ran, refused, or the container's own end.</summary>
    public static string Outcome(RuntimeResult result) =>
        result.TimedOut ? "hung" : result.ExitCode == 0 ? "ran" : result.Stderr.Trim().Length == 0 ? $"container ended with {result.ExitCode}" : "refused";
}
