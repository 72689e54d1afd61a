using Berth.Api;
using Berth.Daemon.Containers;

namespace Berth.Daemon.Tests;

/// <summary>dockerd's restartmanager rules: the policies' answers, the back-off's doubling, cap and reset, cancellation.</summary>
public class RestartManagerTests
{
    static RestartPolicy Policy(string name, int max = 0) => new() { Name = name, MaximumRetryCount = max };

    [Theory]
    [InlineData("no", 0, 1, false, false)]
    [InlineData("", 0, 1, false, false)]
    [InlineData("always", 0, 0, false, true)]
    [InlineData("always", 0, 0, true, true)]
    [InlineData("unless-stopped", 0, 0, false, true)]
    [InlineData("unless-stopped", 0, 137, true, false)]
    [InlineData("on-failure", 0, 0, false, false)]
    [InlineData("on-failure", 0, 1, true, true)]
    [InlineData("on-failure:3", 2, 1, false, true)]
    [InlineData("on-failure:3", 3, 1, false, false)]
    public void The_policies_answer_as_dockerds(string policy, int restarts, int exitCode, bool manuallyStopped, bool restart)
    {
        var parts = policy.Split(':');
        Assert.Equal(restart, RestartManager.ShouldRestart(Policy(parts[0], parts.Length > 1 ? int.Parse(parts[1]) : 0), restarts, exitCode, manuallyStopped));
    }

    [Fact]
    public void The_back_off_doubles_from_100_ms_up_to_a_minute_and_starts_over_after_a_10_s_run()
    {
        using var manager = new RestartManager();
        var brief = TimeSpan.FromSeconds(1);
        var delays = Enumerable.Range(0, 12).Select(i => manager.OnExit("c", Policy("always"), i, 0, false, brief)!.Value.TotalMilliseconds).ToArray();
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000], delays);
        Assert.Equal(TimeSpan.FromMilliseconds(100), manager.OnExit("c", Policy("always"), 12, 0, false, TimeSpan.FromSeconds(10)));
        // The back-off advances even on an exit that is not restarted, as dockerd's.
        Assert.Null(manager.OnExit("c", Policy("on-failure"), 0, 0, false, brief));
        Assert.Equal(TimeSpan.FromMilliseconds(400), manager.OnExit("c", Policy("on-failure"), 0, 1, false, brief));
    }

    [Fact]
    public async Task A_cancel_ends_the_back_off_and_every_restart_until_a_reset()
    {
        using var manager = new RestartManager();
        var delay = manager.OnExit("c", Policy("always"), 0, 0, false, TimeSpan.Zero)!.Value;
        var waiting = manager.WaitAsync("c", TimeSpan.FromMinutes(5));
        manager.Cancel("c");
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Null(manager.OnExit("c", Policy("always"), 0, 0, false, TimeSpan.Zero));
        manager.Reset("c");
        Assert.Equal(delay, manager.OnExit("c", Policy("always"), 0, 0, false, TimeSpan.Zero));
        Assert.True(await manager.WaitAsync("c", TimeSpan.FromMilliseconds(1)).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Shutdown_ends_every_back_off_at_once()
    {
        var manager = new RestartManager();
        var waiting = manager.WaitAsync("c", TimeSpan.FromMinutes(5));
        manager.Dispose();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(await manager.WaitAsync("d", TimeSpan.FromMilliseconds(1)));
    }
}
