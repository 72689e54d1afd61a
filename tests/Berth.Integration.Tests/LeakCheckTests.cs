using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>The leak check is only worth something if it sees a live container's traces.</summary>
[Collection(HostCgroup2Collection.Name)] // one test enables a controller in the host's cgroup2 root for a moment
public sealed class LeakCheckTests(ITestOutputHelper output) : ContainerTest(output)
{
    [SkippableFact]
    public void ALiveContainer_IsReportedAsLeaks_AndNothingAfterDelete()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded);

        var leaks = Leaks.FindLeaks();
        Output.WriteLine(string.Join('\n', leaks));

        Assert.Contains(leaks, l => l.StartsWith("state: ", StringComparison.Ordinal) && l.Contains(Id));
        // The runtime puts the container in cgroups named after it; runc nests the memory one under the caller's.
        Assert.Contains(leaks, l => l.StartsWith("cgroup: /sys/fs/cgroup/pids/", StringComparison.Ordinal));
        Assert.Contains(leaks, l => l.StartsWith("cgroup: /sys/fs/cgroup/memory/", StringComparison.Ordinal));
        // `run -d` returns once init passed the exec.fifo; its exec of `sleep 1000` may come a moment later.
        int pid = Pid();
        Eventually(() => Leaks.FindLeaks().Any(l => l.StartsWith($"process: {pid} `sleep 1000`", StringComparison.Ordinal) && l.Contains("rootfs=True")),
            () => "no leak line for the container's `sleep 1000`:\n  " + string.Join("\n  ", Leaks.FindLeaks()));

        Assert.True(Runtime.Run("delete", "--force", Id).Succeeded);
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void AControllerLeftEnabledInAWatchedSubtreeControl_IsReported_UntilRestored()
    {
        const string root = "/sys/fs/cgroup/unified";
        string? controller = File.Exists($"{root}/cgroup.controllers")
            ? File.ReadAllText($"{root}/cgroup.controllers").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
            : null;
        Skip.If(controller is null, $"no cgroup2 controller at {root} on this host");
        var parent = Path.Combine(root, Id);
        Directory.CreateDirectory(Path.Combine(parent, "child"));
        try
        {
            // As a runtime would for a container below parent/: the root and parent enable the controller.
            RestoreSubtreeControlAfterwards($"{root}/cgroup.subtree_control");
            RestoreSubtreeControlAfterwards($"{parent}/cgroup.subtree_control");
            File.WriteAllText($"{root}/cgroup.subtree_control", "+" + controller);
            File.WriteAllText($"{parent}/cgroup.subtree_control", "+" + controller);

            var leaks = Leaks.FindLeaks();
            Output.WriteLine(string.Join('\n', leaks));

            Assert.Contains($"subtree_control: {parent}/cgroup.subtree_control enabled \"\" before the test, now \"{controller}\"", leaks);
            Assert.Empty(Leaks.RestoreSubtreeControls());
            Assert.Equal("", File.ReadAllText($"{parent}/cgroup.subtree_control").Trim());
            Assert.DoesNotContain(Leaks.FindLeaks(), l => l.StartsWith("subtree_control: ", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(Path.Combine(parent, "child"));
            Directory.Delete(parent);
        }
        Leaks.AssertClean();
    }
}
