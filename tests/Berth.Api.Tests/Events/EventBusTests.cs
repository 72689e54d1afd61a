using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;
using Berth.Daemon.Events;

namespace Berth.Api.Tests.Events;

/// <summary>
/// The event bus against dockerd 20.10 on this host: Resources/dockerd-events.ndjson is what its /events sent for
/// `docker run --name ev1 --network none --label team=a bb true; docker rm ev1; docker tag bb bb:two; docker rmi bb:two`
/// (network and attach events left out). dockerd kept the last 256 of 1100 tag events for since=0.
/// </summary>
public sealed class EventBusTests
{
    const string Id = "7dfe4f61b534c426ecbe8f3a8e9be85f8c1568b70e9ed5094a41144d3a6cbbbf";
    const string ImageId = "sha256:3f163dfc7648915da5502360965d19221ed187de09233031a9ca6070424af41b";
    static readonly Dictionary<string, string> Team = new() { ["team"] = "a" };

    sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    static string Json(EventMessage e) => JsonSerializer.Serialize(e, ApiJson.Context.EventMessage);

    static ApiFilters Filters(params string[] pairs) => ApiFilters.FromPairs(pairs);

    static void PublishRun(EventBus bus)
    {
        bus.PublishContainer("create", Id, "bb", "ev1", Team);
        bus.PublishContainer("start", Id, "bb", "ev1", Team);
        bus.PublishContainer("die", Id, "bb", "/ev1", Team, new Dictionary<string, string> { ["exitCode"] = "0" });
        bus.PublishContainer("destroy", Id, "bb", "ev1", Team);
        bus.PublishImage("tag", ImageId, "bb:two");
        bus.PublishImage("untag", ImageId, ImageId);
    }

    [Fact]
    public void EventsAreDockerdsJson()
    {
        var bus = new EventBus(time: new Clock(DateTimeOffset.FromUnixTimeMilliseconds(1796531223559)));
        PublishRun(bus);
        using var all = bus.Subscribe(ApiFilters.Empty, "0", null);
        var dockerd = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Resources", "dockerd-events.ndjson"));
        Assert.Equal(dockerd.Length, all.Past.Count);
        for (int i = 0; i < dockerd.Length; i++)
        {
            var expected = JsonNode.Parse(dockerd[i])!.AsObject();
            var ours = JsonNode.Parse(Json(all.Past[i]))!.AsObject();
            Assert.Equal(1796531223559000000, (long)ours["timeNano"]!);
            Assert.Equal(1796531223, (long)ours["time"]!);
            foreach (var json in new[] { expected, ours }) { json.Remove("time"); json.Remove("timeNano"); }
            Assert.Equal(expected.ToJsonString(), ours.ToJsonString()); // field order and attribute order too
        }
    }

    [Fact]
    public void HistoryKeepsTheLast256_AndIsReplayedOnlyForSince()
    {
        var clock = new Clock(DateTimeOffset.FromUnixTimeSeconds(1000));
        var bus = new EventBus(time: clock);
        for (int i = 1; i <= 1100; i++)
        {
            clock.Now = DateTimeOffset.FromUnixTimeSeconds(1000 + i);
            bus.PublishImage("tag", ImageId, $"bbt:t{i}");
        }
        using (var sinceZero = bus.Subscribe(ApiFilters.Empty, "0", null))
            Assert.Equal(Enumerable.Range(845, 256).Select(i => $"bbt:t{i}"), sinceZero.Past.Select(e => e.Actor.Attributes["name"]));
        using (var window = bus.Subscribe(ApiFilters.Empty, "2000", "2002.5"))
            Assert.Equal(["bbt:t1000", "bbt:t1001", "bbt:t1002"], window.Past.Select(e => e.Actor.Attributes["name"]));
        using (var noSince = bus.Subscribe(ApiFilters.Empty, null, null))
            Assert.Empty(noSince.Past);
    }

    [Fact]
    public async Task UntilInThePastEndsTheStreamAtOnce()
    {
        var clock = new Clock(DateTimeOffset.FromUnixTimeSeconds(1000));
        var bus = new EventBus(time: clock);
        PublishRun(bus);
        clock.Now = DateTimeOffset.FromUnixTimeSeconds(2000);
        using var sub = bus.Subscribe(ApiFilters.Empty, "0", "1500");
        Assert.True(sub.OnlyPast);
        bus.PublishImage("tag", ImageId, "later");
        var all = await sub.ReadAllAsync().ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(6, all.Count);
    }

    [Fact]
    public async Task LiveEventsFollowThePast_AndUntilAheadEndsTheStream()
    {
        var bus = new EventBus();
        bus.PublishImage("tag", ImageId, "before");
        string until = DateTimeOffset.UtcNow.AddSeconds(2).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var sub = bus.Subscribe(ApiFilters.Empty, "0", until);
        bus.PublishImage("tag", ImageId, "after");
        var all = await sub.ReadAllAsync().ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(["before", "after"], all.Select(e => e.Actor.Attributes["name"]));
    }

    [Fact]
    public async Task CancellationEndsALiveStream()
    {
        var bus = new EventBus();
        using var sub = bus.Subscribe(ApiFilters.Empty, null, null);
        using var cancel = new CancellationTokenSource();
        var reading = sub.ReadAllAsync(cancel.Token).ToListAsync().AsTask();
        bus.PublishContainer("create", Id, "bb", "ev1");
        cancel.CancelAfter(200);
        Assert.Single(await reading.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData("type=container", "create start die destroy")]
    [InlineData("type=image", "tag untag")]
    [InlineData("event=die", "die")]
    [InlineData("event=die,event=tag", "die tag")]
    [InlineData("container=ev1", "create start die destroy")]
    [InlineData("container=ev", "create start die destroy")]
    [InlineData("container=7dfe", "create start die destroy")]
    [InlineData("container=other", "")]
    [InlineData("image=bb", "create start die destroy tag")]
    [InlineData("image=docker.io/library/bb:latest", "")]
    [InlineData("image=" + ImageId, "tag untag")]
    [InlineData("label=team", "create start die destroy")]
    [InlineData("label=team=b", "")]
    [InlineData("type=container,event=start,label=team=a", "start")]
    [InlineData("foo=bar", "create start die destroy tag untag")]
    public void FiltersChooseAsDockerdsDo(string filters, string actions)
    {
        var bus = new EventBus();
        PublishRun(bus);
        using var sub = bus.Subscribe(Filters(filters.Split(',')), "0", null);
        Assert.Equal(actions.Split(' ', StringSplitOptions.RemoveEmptyEntries), sub.Past.Select(e => e.Action));
    }

    [Fact]
    public void ImageNamesMatchWithoutTheirTag()
    {
        var bus = new EventBus();
        bus.PublishImage("pull", "sha256:1", "docker.io/library/busybox:latest");
        bus.PublishContainer("create", Id, "busybox:1.36", "x");
        using var sub = bus.Subscribe(Filters("image=busybox"), "0", null);
        Assert.Equal(["pull", "create"], sub.Past.Select(e => e.Action));
    }

    [Fact]
    public async Task ASubscriberThatDoesNotReadLosesEventsAndHoldsUpNoOne()
    {
        var bus = new EventBus(subscriberBuffer: 4);
        using var stuck = bus.Subscribe(ApiFilters.Empty, null, null);
        using var reader = bus.Subscribe(ApiFilters.Empty, null, null);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<EventMessage>();
        var reading = Task.Run(async () =>
        {
            await foreach (var e in reader.ReadAllAsync(cancel.Token))
            {
                seen.Add(e);
                if (seen.Count == 3) break;
            }
        });
        var publishing = Task.Run(() => { for (int i = 0; i < 3; i++) bus.PublishImage("tag", ImageId, $"n{i}"); });
        await publishing.WaitAsync(TimeSpan.FromSeconds(60));
        await reading.WaitAsync(TimeSpan.FromSeconds(60));
        for (int i = 3; i < 10; i++) bus.PublishImage("tag", ImageId, $"n{i}"); // returns although 'stuck' is full
        Assert.Equal(6, stuck.Dropped);
        Assert.Equal(["n0", "n1", "n2"], seen.Select(e => e.Actor.Attributes["name"]));
    }

    [Fact]
    public void SinceAfterUntilAndBadTimesGetDockerdsErrors()
    {
        var bus = new EventBus();
        Assert.Equal("`since` time (1796532559) cannot be after `until` time (1796532554)",
            Assert.Throws<EventQueryException>(() => bus.Subscribe(ApiFilters.Empty, "1796532559", "1796532554")).Message);
        Assert.Equal("strconv.ParseInt: parsing \"abc\": invalid syntax",
            Assert.Throws<FormatException>(() => bus.Subscribe(ApiFilters.Empty, null, "abc")).Message);
    }

    [Fact]
    public void OtherTypesCarryNoLegacyFields() =>
        Assert.Equal("{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n1\",\"Attributes\":{\"container\":\"c\",\"name\":\"none\",\"type\":\"null\"}},\"scope\":\"local\",\"time\":1,\"timeNano\":1000000000}",
            Json(new EventBus(time: new Clock(DateTimeOffset.FromUnixTimeSeconds(1)))
                .Publish("network", "connect", "n1", new Dictionary<string, string> { ["type"] = "null", ["name"] = "none", ["container"] = "c" })));
}
