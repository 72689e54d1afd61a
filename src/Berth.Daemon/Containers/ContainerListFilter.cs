using System.Globalization;
using Berth.Api;

namespace Berth.Daemon.Containers;

/// <summary>What <c>GET /containers/json</c> filters on, one container.</summary>
/// <param name="Names">With the leading '/'; the first is the container's own name (the others are links).</param>
/// <param name="State">created, running, paused, restarting, removing, exited or dead.</param>
/// <param name="Health">starting, healthy, unhealthy, or none without a health check.</param>
/// <param name="StartedAt">Null when the container never started (an exited filter does not match it).</param>
/// <param name="Networks">Network name → network id.</param>
/// <param name="Mounts">The container's mounts as inspect shows them (a volume filter matches a source or a destination).</param>
public sealed record ContainerListEntry(
    string Id, IReadOnlyList<string> Names, string Image, string ImageId, IReadOnlyDictionary<string, string> Labels,
    string State, int ExitCode, DateTimeOffset Created, string Health, DateTimeOffset? StartedAt,
    IReadOnlyDictionary<string, string> Networks, IReadOnlyList<MountPoint>? Mounts = null)
{
    /// <summary>dockerd's Running: true while paused or restarting too.</summary>
    public bool Running => State is "running" or "paused" or "restarting";
}

/// <summary>A list request dockerd refuses, with its message and status code (400 or, where dockerd says so, 500).</summary>
public sealed class ContainerListFilterException(string message, int statusCode) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>
/// <c>GET /containers/json?all=&amp;limit=&amp;filters=</c> as dockerd 20.10 answers it: newest first; stopped
/// containers only with all, a limit or a status filter; name, id and status match as regular expressions (any value),
/// label as key or key=value (every value), health and is-task exactly; before/since by a container's name or id
/// (exclusive); exited only containers that ran and stopped with one of the codes; ancestor by image id; volume by a
/// mount's destination or source.
/// </summary>
public sealed class ContainerListFilter
{
    static readonly HashSet<string> Accepted =
        ["ancestor", "before", "exited", "health", "id", "label", "name", "status", "publish", "expose", "since", "volume", "network", "is-task", "isolation"];
    static readonly HashSet<string> States = ["paused", "restarting", "removing", "running", "dead", "created", "exited"];
    static readonly HashSet<string> Healths = ["starting", "healthy", "unhealthy", "none"];

    readonly ApiFilters _filters;
    readonly bool _all;
    readonly int _limit;
    readonly List<int> _exited = [];
    readonly bool? _isTask;
    readonly string? _before, _since;
    readonly HashSet<string>? _ancestors; // image ids; null without an ancestor filter

    ContainerListFilter(ApiFilters filters, bool all, int limit, bool? isTask, string? before, string? since, HashSet<string>? ancestors, List<int> exited)
    {
        (_filters, _all, _limit, _isTask, _before, _since, _ancestors, _exited) = (filters, all, limit, isTask, before, since, ancestors, exited);
    }

    /// <param name="findContainer">A container by name (with or without '/'), full id or id prefix; null when there is none.</param>
    /// <param name="findImageId">An image's id by reference or id; null when there is none (dockerd logs it and matches nothing by it).</param>
    /// <exception cref="ContainerListFilterException">An unknown filter or a value dockerd refuses, with dockerd's message.</exception>
    public static ContainerListFilter Create(ApiFilters filters, bool all, int limit,
        Func<string, ContainerListEntry?> findContainer, Func<string, string?> findImageId)
    {
        foreach (var key in filters.Keys)
            if (!Accepted.Contains(key)) throw new ContainerListFilterException($"Invalid filter '{key}'", 400);
        foreach (var key in new[] { "publish", "expose" })
            if (filters.Get(key).Count > 0)
                throw new ContainerListFilterException($"berthd does not filter containers by {key} yet (containers have no ports in berthd)", 400);

        var exited = new List<int>();
        foreach (var value in filters.Get("exited"))
            exited.Add(int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int code)
                ? code : throw new ContainerListFilterException($"strconv.Atoi: parsing \"{value}\": invalid syntax", 500));
        foreach (var value in filters.Get("status"))
        {
            if (!States.Contains(value)) throw new ContainerListFilterException($"Invalid filter 'status={value}'", 400);
            all = true;
        }
        bool? isTask = null;
        var task = filters.Get("is-task");
        if (task.Count > 0)
        {
            isTask = task.Count == 1 && task.Contains("true") ? true : task.Count == 1 && task.Contains("false") ? false
                : throw new ContainerListFilterException($"Invalid filter 'is-task=[{string.Join(' ', task)}]'", 400);
        }
        foreach (var value in filters.Get("health"))
            if (!Healths.Contains(value)) throw new ContainerListFilterException($"Unrecognised filter value for health: {value}", 400);
        string? Container(string key)
        {
            string? id = null;
            foreach (var value in filters.Get(key))
                id = (findContainer(value) ?? throw new ContainerListFilterException($"no such container {value}", 500)).Id;
            return id;
        }
        string? before = Container("before"), since = Container("since");
        HashSet<string>? ancestors = null;
        if (filters.Get("ancestor").Count > 0)
            ancestors = [.. filters.Get("ancestor").Select(findImageId).OfType<string>()];
        return new ContainerListFilter(filters, all, limit, isTask, before, since, ancestors, exited);
    }

    /// <summary>The <c>limit</c> query value: empty is none; anything but a number is dockerd's 500.</summary>
    /// <exception cref="ContainerListFilterException">Not a number.</exception>
    public static int ParseLimit(string? value) =>
        string.IsNullOrEmpty(value) ? 0
        : int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) ? n
        : throw new ContainerListFilterException($"strconv.Atoi: parsing \"{value}\": invalid syntax", 500);

    /// <summary>The <c>all</c> query value as dockerd reads a boolean: false only for "", "0", "no", "false", "none".</summary>
    public static bool ParseBool(string? value) =>
        (value ?? "").Trim().ToLowerInvariant() is not ("" or "0" or "no" or "false" or "none");

    /// <summary>The containers to list, newest first.</summary>
    public List<ContainerListEntry> Apply(IEnumerable<ContainerListEntry> containers)
    {
        var listed = new List<ContainerListEntry>();
        bool beforeSeen = _before is null;
        foreach (var c in containers.OrderByDescending(c => c.Created))
        {
            if (!beforeSeen)
            {
                beforeSeen = c.Id == _before;
                continue;
            }
            if (c.Id == _since) break;
            if (!c.Running && !_all && _limit <= 0) continue;
            string name = c.Names.Count > 0 ? c.Names[0] : "";
            if (!_filters.Match("name", name) && !_filters.Match("name", name.TrimStart('/'))) continue;
            if (!_filters.Match("id", c.Id)) continue;
            if (_isTask == true) continue; // berthd runs no swarm tasks
            if (!_filters.MatchKeyValues("label", c.Labels)) continue;
            if (!_filters.Match("isolation", "default")) continue;
            if (_limit > 0 && listed.Count == _limit) break;
            if (_exited.Count > 0 && !(_exited.Contains(c.ExitCode) && !c.Running && c.StartedAt is not null)) continue;
            if (!_filters.Match("status", c.State)) continue;
            if (!_filters.ExactMatch("health", c.Health)) continue;
            if (_filters.Get("network") is { Count: > 0 } networks
                && !networks.Any(n => c.Networks.ContainsKey(n) || c.Networks.Values.Any(id => id.StartsWith(n, StringComparison.Ordinal)))) continue;
            if (_ancestors is not null && !_ancestors.Contains(c.ImageId)) continue;
            // dockerd: a mount whose destination, or whose volume name (a bind's source), is one of the values.
            if (_filters.Get("volume") is { Count: > 0 } volumes
                && !volumes.Any(v => (c.Mounts ?? []).Any(m => m.Destination == v || (m.Name ?? m.Source) == v))) continue;
            listed.Add(c);
        }
        return listed;
    }
}
