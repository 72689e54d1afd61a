using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>The leak check is only worth something if it sees a live container's traces.</summary>
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
        Assert.Contains(leaks, l => l.StartsWith($"process: {Pid()} `sleep 1000`", StringComparison.Ordinal) && l.Contains("rootfs=True"));

        Assert.True(Runtime.Run("delete", "--force", Id).Succeeded);
        Leaks.AssertClean();
    }
}
