using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

public sealed class ConcurrencyTests(ITestOutputHelper output) : ContainerTest(output)
{
    private const int Rounds = 3; // one race is easily won by timing alone

    /// <summary>Races two creates of one id per round; returns how many won in each round.</summary>
    private async Task<List<int>> RaceCreates()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var winners = new List<int>();
        for (var round = 0; round < Rounds; round++)
        {
            var id = round == 0 ? Id : TrackId(NewId());
            string[] create = ["create", "--bundle", Bundle.Path, id];

            var results = await Task.WhenAll(Runtime.RunAsync(create), Runtime.RunAsync(create));

            foreach (var loser in results.Where(r => !r.Succeeded))
            {
                Assert.False(loser.TimedOut, "a racing create hung: " + loser);
                Assert.False(string.IsNullOrWhiteSpace(loser.Stderr), "a losing create printed no error");
            }
            var won = results.Count(r => r.Succeeded);
            winners.Add(won);
            if (won == 1)
                Assert.Equal("created", Status(id)); // the winner's container must really exist
            Runtime.Run("delete", "--force", id);
        }
        Leaks.AssertClean();
        return winners;
    }

    // runc 1.1.5 can also report success for a create whose state the other create removed, leaving
    // a "runc init" process and its cgroups behind (seen in about one run in three here).
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public async Task RacingCreates_NeverBothSucceed_AndLeaveNothing()
    {
        var winners = await RaceCreates();

        Assert.All(winners, w => Assert.True(w <= 1, $"{w} creates of one id succeeded"));
    }

    // runc 1.1.5 takes no lock around create: racing creates can both fail
    // ("exec fifo ... already exists" next to a half-applied cgroup), so neither wins.
    [SkippableFact]
    [Trait("runc-compatible", "false")]
    public async Task RacingCreates_ExactlyOneWins()
    {
        var winners = await RaceCreates();

        Assert.All(winners, w => Assert.Equal(1, w));
    }

    /// <summary>
    /// The claim on an id is one step: create used to make the directory, then open and lock it, and a
    /// `delete --force` in between removed it as a stale claim, so that create failed with a raw ENOENT.
    /// </summary>
    [SkippableFact]
    public async Task CreateRacingDeleteForce_EitherWinsCleanly()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        for (var round = 0; round < 40; round++)
        {
            var id = round == 0 ? Id : TrackId(NewId());
            var create = Runtime.RunAsync(["create", "--bundle", Bundle.Path, id]);
            // Several deletes, spread over the create's first milliseconds, to hit the moment of the claim.
            var deletes = Enumerable.Range(0, 4).Select(async i =>
            {
                await Task.Delay(i * 3);
                return await Runtime.RunAsync(["delete", "--force", id]);
            });
            var results = await Task.WhenAll([create, .. deletes]);
            Assert.All(results, r => Assert.False(r.TimedOut, r.ToString()));
            if (!results[0].Succeeded)
                Assert.DoesNotContain("No such file or directory", results[0].Stderr);
            Runtime.Run("delete", "--force", id);
        }
        Leaks.AssertClean();
    }

    /// <summary>
    /// Every command waits for the container's lock within a bound and names who holds it: a create stuck in a
    /// prestart hook (no timeout) used to block `delete --force` forever.
    /// </summary>
    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc takes no lock: its delete --force goes ahead under a running create
    public async Task ACommandWaitingForAStuckCreate_GivesUpNamingTheHolder()
    {
        var spec = Specs.Default("sleep", "1000");
        spec["hooks"] = new System.Text.Json.Nodes.JsonObject
        {
            ["prestart"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject
            {
                ["path"] = "/bin/sh",
                ["args"] = Specs.Strings("sh", "-c", "sleep 60"),
            }),
        };
        Bundle.WriteConfig(spec);
        var create = Runtime.RunAsync(["create", "--bundle", Bundle.Path, Id], timeout: TimeSpan.FromSeconds(90));
        Eventually(() => Directory.Exists(Path.Combine(StateRoot, Id)), "the create to claim its id");

        var delete = Runtime.Run(["delete", "--force", Id], new RuntimeInvocation
        {
            Environment = new Dictionary<string, string> { ["BERTH_LOCK_TIMEOUT"] = "2" },
        });

        // Without the bound (60 s by default; 2 s here) the runner's 30 s timeout would end it.
        Assert.False(delete.TimedOut, delete.ToString());
        Assert.False(delete.Succeeded, delete.ToString());
        Assert.Contains("is busy", delete.Stderr);
        Assert.Contains("create", delete.Stderr); // the holder's command line
        // The stuck create's hook is its child: killing the create ends both (the hook dies with its parent).
        KillRuntimesOf(Id);
        var ended = await create;
        Assert.False(ended.Succeeded);
    }

    /// <summary>SIGKILLs the runtime processes whose command line names <paramref name="id"/> (this test's own).</summary>
    static void KillRuntimesOf(string id)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            if (cmdline.Contains(RuntimeBinary.Path) && cmdline.Contains(" create ") && cmdline.Contains(id))
                System.Diagnostics.Process.GetProcessById(pid).Kill();
        }
    }
}
