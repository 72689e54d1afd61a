using System.Diagnostics;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class LifecycleTests(ITestOutputHelper output) : ContainerTest(output)
{
    private static string Cmdline(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    [SkippableFact]
    public void CreateStartKillDelete_WalkThroughTheStates()
    {
        var spec = Specs.Default("sleep", "1000");
        var create = Create(spec);
        Assert.True(create.Succeeded, "create failed: " + create);

        var state = StateJson();
        Assert.Equal("created", (string?)state["status"]);
        Assert.Equal(Id, (string?)state["id"]);
        Assert.Equal(Bundle.Path, (string?)state["bundle"]);
        var pid = (int)state["pid"]!;
        Assert.True(pid > 0, $"pid {pid}");
        // exec.fifo split: the init exists but has not exec'd the user's program yet.
        Assert.NotEqual("sleep 1000", Cmdline(pid));

        Assert.True(Runtime.Run("start", Id).Succeeded);
        Assert.Equal("running", Status());
        Eventually(() => Cmdline(pid) == "sleep 1000", $"pid {pid} to exec 'sleep 1000' after start");

        Assert.True(Runtime.Run("kill", Id, "KILL").Succeeded);
        WaitForStatus("stopped");

        Assert.True(Runtime.Run("delete", Id).Succeeded);
        Assert.False(State().Succeeded, "state still works after delete");
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void RunDetached_ReturnsAtOnce_WithTheContainerRunning()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));

        var run = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);

        Assert.True(run.Succeeded, "run -d failed: " + run);
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(10), $"run -d took {run.Elapsed}");
        Assert.Equal("running", Status());
        var pid = Pid();
        Eventually(() => Cmdline(pid) == "sleep 1000", $"pid {pid} to exec 'sleep 1000'");
    }

    [SkippableFact]
    public void DeleteForce_RemovesARunningContainer()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);
        var pid = Pid();

        var delete = Runtime.Run("delete", "--force", Id);

        Assert.True(delete.Succeeded, "delete --force failed: " + delete);
        Assert.False(State().Succeeded);
        Eventually(() => Cmdline(pid) != "sleep 1000", $"container process {pid} to die");
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void DeleteWithoutForce_RefusesARunningContainer()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);

        Assert.False(Runtime.Run("delete", Id).Succeeded);
        Assert.Equal("running", Status());
    }

    [SkippableFact]
    public void PidFile_HoldsTheInitPid()
    {
        var pidFile = Path.Combine(WorkDirectory, "init.pid");

        Assert.True(Create(Specs.Default("sleep", "1000"), "--pid-file", pidFile).Succeeded);

        Assert.Equal(Pid(), int.Parse(File.ReadAllText(pidFile).Trim()));
    }

    [SkippableFact]
    public void List_ShowsTheContainer_AsTableJsonAndQuiet()
    {
        Assert.True(Create(Specs.Default("sleep", "1000")).Succeeded);

        var table = Runtime.Run("list");
        var json = Runtime.Run("list", "--format", "json");
        var quiet = Runtime.Run("list", "-q");

        Assert.True(table.Succeeded);
        var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("ID", lines[0]);
        Assert.Contains("STATUS", lines[0]);
        var row = Assert.Single(lines, l => l.StartsWith(Id + " ", StringComparison.Ordinal));
        Assert.Contains("created", row);

        Assert.True(json.Succeeded);
        var entry = Assert.Single(JsonNode.Parse(json.Stdout)!.AsArray());
        Assert.Equal(Id, (string?)entry!["id"]);
        Assert.Equal("created", (string?)entry["status"]);
        Assert.Equal(Pid(), (int)entry["pid"]!);

        Assert.True(quiet.Succeeded);
        Assert.Equal([Id], quiet.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableFact]
    public void List_OfAnEmptyRoot_IsEmpty()
    {
        var json = Runtime.Run("list", "--format", "json");
        var quiet = Runtime.Run("list", "-q");

        Assert.True(json.Succeeded);
        Assert.Empty(JsonNode.Parse(json.Stdout) is JsonArray a ? a : []);
        Assert.True(quiet.Succeeded);
        Assert.Equal("", quiet.Stdout.Trim());
    }

    [SkippableFact]
    public void ForegroundRun_DeletesTheContainerWhenItExits()
    {
        var stopwatch = Stopwatch.StartNew();
        var result = RunContainer(Specs.Shell("echo hello"));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("hello\n", result.Stdout);
        Assert.False(State().Succeeded, "a foreground run leaves no container behind");
        Output.WriteLine($"run took {stopwatch.ElapsedMilliseconds} ms");
        Leaks.AssertClean();
    }
}
