using Berth.Api;
using Berth.Daemon.Containers;

namespace Berth.Api.Tests.Containers;

/// <summary>
/// `docker ps` filters against what dockerd 20.10 listed here for three containers: l1 (exited 0, oldest), busy
/// (running), rot (exited 0, newest), all from image bb, --network none; and dockerd's errors for bad filters.
/// </summary>
public sealed class ContainerListFilterTests
{
    const string Bb = "sha256:3f163dfc7648915da5502360965d19221ed187de09233031a9ca6070424af41b";
    static readonly Dictionary<string, string> None = new() { ["none"] = "7b4710c438b1929858647240897e362fd27d507db1e30b857bc24732fb9bf0ba" };
    static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-12-06T04:25:44Z", System.Globalization.CultureInfo.InvariantCulture);

    static readonly ContainerListEntry L1 = new("02e60d187af6872fca761a37c74e174c215a9c0a834d37148a42b357fa162f1a", ["/l1"], "bb", Bb,
        new Dictionary<string, string>(), "exited", 0, T0, "none", T0, None);
    static readonly ContainerListEntry Busy = new("572306b6c18788b89555e9a01de32f136133f950aeddc9562435f19b3dda330d", ["/busy"], "bb", Bb,
        new Dictionary<string, string> { ["team"] = "a", ["tier"] = "web" }, "running", 0, T0.AddSeconds(33), "healthy", T0.AddSeconds(33), None);
    static readonly ContainerListEntry Rot = new("91aff4f1409276871c77197dabc32d485005611c0519f7930272c5991fdff6bb", ["/rot"], "bb", Bb,
        new Dictionary<string, string> { ["team"] = "b" }, "exited", 0, T0.AddMinutes(6), "none", T0.AddMinutes(6), None);
    static readonly ContainerListEntry Fresh = new("aaaa000000000000000000000000000000000000000000000000000000000000", ["/fresh"], "other", "sha256:other",
        new Dictionary<string, string>(), "created", 0, T0.AddMinutes(7), "none", null, new Dictionary<string, string>());
    static readonly ContainerListEntry[] Three = [L1, Busy, Rot];

    static List<string> List(bool all, int limit, params string[] filters) => List(Three, all, limit, filters);

    static List<string> List(IEnumerable<ContainerListEntry> containers, bool all, int limit, params string[] filters) =>
        ContainerListFilter.Create(ApiFilters.FromPairs(filters), all, limit, Find, image => image is "bb" or "bb:latest" or Bb ? Bb : null)
            .Apply(containers).Select(c => c.Names[0].TrimStart('/')).ToList();

    static ContainerListEntry? Find(string nameOrId) =>
        new[] { L1, Busy, Rot, Fresh }.FirstOrDefault(c => c.Names[0] == "/" + nameOrId.TrimStart('/') || c.Id.StartsWith(nameOrId, StringComparison.Ordinal));

    [Theory]
    // dockerd: `docker ps [-a] [-n N] --filter F --format {{.Names}}`, the answers it gave.
    [InlineData(false, 0, "", "busy")]
    [InlineData(true, 0, "", "rot busy l1")]
    [InlineData(false, 1, "", "rot")]
    [InlineData(true, 2, "status=exited", "rot l1")]
    [InlineData(false, 0, "status=exited", "rot l1")]
    [InlineData(false, 0, "before=busy", "")]
    [InlineData(true, 0, "before=busy", "l1")]
    [InlineData(false, 0, "since=l1", "busy")]
    [InlineData(true, 0, "since=l1", "rot busy")]
    [InlineData(true, 0, "id=02e", "l1")]
    [InlineData(false, 0, "id=^02", "")]
    [InlineData(true, 0, "name=busy", "busy")]
    [InlineData(true, 0, "name=^/l1$", "l1")]
    [InlineData(true, 0, "name=^l", "l1")]
    [InlineData(true, 0, "exited=0", "rot l1")]
    [InlineData(false, 0, "exited=0", "")]
    [InlineData(true, 0, "exited=1", "")]
    [InlineData(true, 0, "is-task=true", "")]
    [InlineData(true, 0, "is-task=false", "rot busy l1")]
    [InlineData(true, 0, "network=none", "rot busy l1")]
    [InlineData(true, 0, "network=7b47", "rot busy l1")]
    [InlineData(true, 0, "isolation=default", "rot busy l1")]
    [InlineData(true, 0, "ancestor=nosuch", "")]
    [InlineData(true, 0, "ancestor=bb", "rot busy l1")]
    [InlineData(true, 0, "label=team", "rot busy")]
    [InlineData(true, 0, "label=team=a", "busy")]
    [InlineData(true, 0, "label=team=a,label=tier", "busy")]
    [InlineData(true, 0, "label=team=b,label=tier", "")]
    [InlineData(true, 0, "health=healthy", "busy")]
    [InlineData(true, 0, "health=none", "rot l1")]
    [InlineData(true, 0, "status=running,status=exited", "rot busy l1")]
    public void ListsWhatDockerdLists(bool all, int limit, string filters, string expected) =>
        Assert.Equal(expected.Split(' ', StringSplitOptions.RemoveEmptyEntries), List(all, limit, filters.Split(',', StringSplitOptions.RemoveEmptyEntries)));

    [Fact]
    public void ExitedSkipsAContainerThatNeverRan_AndCreatedIsNotRunning()
    {
        Assert.Equal(["rot", "l1"], List([L1, Rot, Fresh], true, 0, "exited=0"));
        Assert.Equal(["fresh"], List([L1, Rot, Fresh], false, 0, "status=created"));
        Assert.Empty(List([Fresh], false, 0));
    }

    [Theory]
    [InlineData("foo=bar", "Invalid filter 'foo'", 400)]
    [InlineData("status=bogus", "Invalid filter 'status=bogus'", 400)]
    [InlineData("health=bogus", "Unrecognised filter value for health: bogus", 400)]
    [InlineData("exited=abc", "strconv.Atoi: parsing \"abc\": invalid syntax", 500)]
    [InlineData("is-task=maybe", "Invalid filter 'is-task=[maybe]'", 400)]
    [InlineData("before=nosuch", "no such container nosuch", 500)]
    [InlineData("since=nosuch", "no such container nosuch", 500)]
    public void BadFiltersGetDockerdsErrors(string filter, string message, int status)
    {
        var e = Assert.Throws<ContainerListFilterException>(() => List(true, 0, filter));
        Assert.Equal((message, status), (e.Message, e.StatusCode));
    }

    [Fact]
    public void QueryValuesParseAsDockerdParsesThem()
    {
        Assert.Equal(0, ContainerListFilter.ParseLimit(null));
        Assert.Equal(3, ContainerListFilter.ParseLimit("3"));
        Assert.Equal("strconv.Atoi: parsing \"abc\": invalid syntax", Assert.Throws<ContainerListFilterException>(() => ContainerListFilter.ParseLimit("abc")).Message);
        Assert.True(ContainerListFilter.ParseBool("abc"));
        Assert.True(ContainerListFilter.ParseBool("1"));
        Assert.False(ContainerListFilter.ParseBool(" False "));
        Assert.False(ContainerListFilter.ParseBool(null));
    }

    [Fact]
    public void FiltersBerthCannotEvaluateAreRefusedNotIgnored() =>
        Assert.Contains("publish", Assert.Throws<ContainerListFilterException>(() => List(true, 0, "publish=80")).Message);
}
