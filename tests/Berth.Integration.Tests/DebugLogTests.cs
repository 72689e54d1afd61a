using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// `--debug`: the runtime's steps as runc's debug lines, logrus text (time="..." level=debug msg="...") or, with
/// --log-format json, {"level","msg","time"} objects; on stderr, or only in --log when one is given.
/// </summary>
public sealed class DebugLogTests(ITestOutputHelper output) : ContainerTest(output)
{
    const string TextLine = "^time=\"[^\"]+\" level=(debug|info|warning) msg=\"(?:[^\"\\\\]|\\\\.)*\"( \\w+=\\S+)*$";

    JsonObject SpecWithHook()
    {
        var spec = Specs.Shell("echo ran");
        spec["hooks"] = new JsonObject { ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/true", ["args"] = Specs.Strings("true") }) };
        return spec;
    }

    static List<JsonObject> JsonLines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [SkippableFact]
    public void Debug_PrintsRuncsTextLinesOnStderr()
    {
        Bundle.WriteConfig(SpecWithHook());

        var run = Runtime.Run(["run", "--bundle", Bundle.Path, Id], ["--debug"]);

        Assert.True(run.Succeeded, "run --debug failed: " + run);
        Assert.Equal("ran\n", run.Stdout);
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("level=debug", StringComparison.Ordinal));
        Assert.All(lines, l => Assert.Matches(TextLine, l));
    }

    [SkippableFact]
    public void DebugWithJsonFormat_PrintsJsonLinesOnStderr()
    {
        Bundle.WriteConfig(SpecWithHook());

        var run = Runtime.Run(["run", "--bundle", Bundle.Path, Id], ["--debug", "--log-format", "json"]);

        Assert.True(run.Succeeded, "run --debug failed: " + run);
        var lines = JsonLines(run.Stderr);
        Assert.Contains(lines, l => (string?)l["level"] == "debug");
        Assert.All(lines, l =>
        {
            Assert.False(string.IsNullOrEmpty((string?)l["msg"]));
            Assert.True(DateTimeOffset.TryParse((string?)l["time"], out _), "time is not a timestamp: " + l);
        });
    }

    [SkippableFact]
    public void DebugWithALogFile_WritesThereOnly()
    {
        Bundle.WriteConfig(SpecWithHook());
        string log = Path.Combine(WorkDirectory, "debug.json");

        var run = Runtime.Run(["run", "--bundle", Bundle.Path, Id], ["--debug", "--log", log, "--log-format", "json"]);

        Assert.True(run.Succeeded, "run --debug failed: " + run);
        Assert.Equal("", run.Stderr);
        Assert.Contains(JsonLines(File.ReadAllText(log)), l => (string?)l["level"] == "debug");
    }

    /// <summary>What the lines say: runc's name its Go and nsexec stages; ours the steps of create, run and exec.</summary>
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public void Debug_NamesEachStep_AndEachPhasesDuration()
    {
        Bundle.WriteConfig(SpecWithHook());
        string log = Path.Combine(WorkDirectory, "debug.json");

        var run = Runtime.Run(["run", "--bundle", Bundle.Path, Id], ["--debug", "--log", log, "--log-format", "json"]);
        Assert.True(run.Succeeded, "run --debug failed: " + run);
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        string second = TrackId(NewId());
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, second).Succeeded);
        string execLog = Path.Combine(WorkDirectory, "exec.json");
        var exec = Runtime.Run(["exec", second, "true"], ["--debug", "--log", execLog, "--log-format", "json"]);
        Assert.True(exec.Succeeded, "exec --debug failed: " + exec);

        var messages = JsonLines(File.ReadAllText(log)).Select(l => (string)l["msg"]!).ToList();
        Output.WriteLine(string.Join("\n", messages));
        foreach (var step in new[] { "create " + Id, "cgroup", "clone flags", "mount proc on /proc", "prestart hook #0 /bin/true", "start " + Id })
            Assert.Contains(messages, m => m.Contains(step, StringComparison.Ordinal));
        Assert.Contains(messages, m => Regex.IsMatch(m, @"^phase \S+ took \d+\.\d{3} ms$"));
        var execMessages = JsonLines(File.ReadAllText(execLog)).Select(l => (string)l["msg"]!).ToList();
        Output.WriteLine(string.Join("\n", execMessages));
        Assert.Contains(execMessages, m => m.Contains("join", StringComparison.Ordinal) && m.Contains("/proc/", StringComparison.Ordinal));
    }
}
