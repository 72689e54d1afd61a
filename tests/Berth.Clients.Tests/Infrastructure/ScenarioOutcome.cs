using System.Text;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>One observable step of a scenario: what the client returned and the part of its output that must agree.</summary>
public sealed record Step(string Name, int ExitCode, string Output)
{
    public override string ToString() => $"{Name}: exit {ExitCode}, output [{Output}]";
}

/// <summary>The steps of one scenario on one runtime, in order; compared step by step with the other runtime's.</summary>
public sealed class ScenarioOutcome
{
    private readonly List<Step> _steps = [];

    public IReadOnlyList<Step> Steps => _steps;

    public Step this[string name] => _steps.FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException($"no step '{name}' in [{string.Join(", ", _steps.Select(s => s.Name))}]");

    /// <summary>Records a client command: its exit code and its stdout (trimmed), or <paramref name="project"/> of it.</summary>
    public ToolResult Record(string name, ToolResult result, Func<string, string>? project = null)
    {
        var output = project is null ? result.Stdout.Trim() : project(result.Stdout);
        _steps.Add(new Step(name, result.ExitCode, output));
        return result;
    }

    public void Record(string name, int exitCode, string output) => _steps.Add(new Step(name, exitCode, output));

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var step in _steps)
            text.AppendLine("  " + step);
        return text.ToString();
    }
}
