using Berth.Integration.Tests.Infrastructure;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>How a failing runtime command must speak: sentences on stderr, never a .NET stack trace, resource key or type.</summary>
public static class ErrorLines
{
    /// <summary>The reasons <paramref name="stderr"/> is not a clear error; empty when it is.</summary>
    public static List<string> Problems(string stderr)
    {
        var problems = new List<string>();
        if (ErrorText.StackTrace().IsMatch(stderr)) problems.Add("a .NET stack trace");
        foreach (var m in ErrorText.ResourceKey().Matches(stderr).Concat(ErrorText.DotnetTypeName().Matches(stderr)))
            problems.Add($"\"{m.Value}\" (a resource key or .NET type)");
        return problems;
    }

    public static void AssertClear(RuntimeResult result)
    {
        var problems = Problems(result.Stderr);
        Assert.True(problems.Count == 0, $"unclear error ({string.Join(", ", problems)}): {result}");
    }
}
