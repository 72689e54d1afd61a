using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Berth.Api;

namespace Berth.Daemon.Events;

/// <summary>
/// berthd's events, as dockerd 20.10 keeps them: published in its JSON shape, the last <see cref="HistoryLimit"/>
/// kept for <c>since</c>, each subscriber with its own bounded queue so that one that does not read loses events
/// rather than holding up the daemon (dockerd drops for a subscriber that is 1024 behind, after a short wait).
/// </summary>
public sealed class EventBus
{
    readonly Lock _lock = new();
    readonly Queue<EventMessage> _history = new();
    readonly List<EventSubscription> _subscribers = [];
    readonly TimeProvider _time;

    /// <param name="historyLimit">Events kept for replay; dockerd 20.10 keeps 256.</param>
    /// <param name="subscriberBuffer">Events a subscriber may lag behind before it loses new ones; dockerd's 1024.</param>
    public EventBus(int historyLimit = 256, int subscriberBuffer = 1024, TimeProvider? time = null)
    {
        HistoryLimit = historyLimit;
        SubscriberBuffer = subscriberBuffer;
        _time = time ?? TimeProvider.System;
    }

    public int HistoryLimit { get; }
    public int SubscriberBuffer { get; }

    /// <summary>A container event; its attributes are the container's labels, then image and name, then <paramref name="extra"/> (exitCode for die, signal for kill...).</summary>
    /// <param name="image">The image as the client named it at create (dockerd's Config.Image).</param>
    /// <param name="name">Without the leading '/'.</param>
    public EventMessage PublishContainer(string action, string containerId, string image, string name,
        IReadOnlyDictionary<string, string>? labels = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var attributes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in labels ?? new Dictionary<string, string>()) attributes[k] = v;
        attributes["image"] = image;
        attributes["name"] = name.TrimStart('/');
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) attributes[k] = v;
        return Publish("container", action, containerId, attributes);
    }

    /// <summary>An image event (pull, push, tag, untag, delete, import, load, save): <paramref name="name"/> is the reference it concerns.</summary>
    public EventMessage PublishImage(string action, string imageId, string name) =>
        Publish("image", action, imageId, new SortedDictionary<string, string>(StringComparer.Ordinal) { ["name"] = name });

    /// <summary>Any event: stamped now, kept in the history, offered to every subscriber whose filter takes it.</summary>
    public EventMessage Publish(string type, string action, string actorId, IReadOnlyDictionary<string, string> attributes)
    {
        long nanos = UnixNanos(_time.GetUtcNow());
        var message = new EventMessage
        {
            Type = type, Action = action, Scope = "local", Time = nanos / 1_000_000_000, TimeNano = nanos,
            Actor = new EventActor { ID = actorId, Attributes = new SortedDictionary<string, string>(attributes.ToDictionary(), StringComparer.Ordinal) },
        };
        if (type is "container" or "image")
        {
            // The fields clients before API 1.22 read.
            message.Status = action;
            message.Id = actorId;
            if (type == "container") message.From = attributes.GetValueOrDefault("image", "");
        }
        lock (_lock)
        {
            _history.Enqueue(message);
            while (_history.Count > HistoryLimit) _history.Dequeue();
            foreach (var subscriber in _subscribers) subscriber.Offer(message);
        }
        return message;
    }

    /// <summary>
    /// A subscriber: the kept events from <paramref name="sinceNanos"/> to <paramref name="untilNanos"/> (none without
    /// since), then, when until is not past, what is published until then. Dispose it to unsubscribe.
    /// </summary>
    /// <param name="since">The query value (unix seconds, optional fraction); null or empty for none.</param>
    /// <exception cref="EventQueryException">since is after until, with dockerd's message (a 400).</exception>
    /// <exception cref="FormatException">since or until is no time, with dockerd's message (a 500 there).</exception>
    public EventSubscription Subscribe(ApiFilters filters, string? since, string? until)
    {
        long? sinceNanos = string.IsNullOrEmpty(since) ? null : ApiTimestamps.ParseQuery(since);
        long? untilNanos = string.IsNullOrEmpty(until) ? null : ApiTimestamps.ParseQuery(until);
        long now = UnixNanos(_time.GetUtcNow());
        if (untilNanos < sinceNanos)
            throw new EventQueryException($"`since` time ({since}) cannot be after `until` time ({until})");
        var filter = new EventFilter(filters);
        lock (_lock)
        {
            var past = sinceNanos is { } from
                ? _history.Where(e => e.TimeNano >= from && (untilNanos is not { } to || e.TimeNano <= to) && filter.Includes(e)).ToList()
                : [];
            bool onlyPast = untilNanos is { } end && end < now;
            var subscription = new EventSubscription(this, filter, past, onlyPast ? null : untilNanos, onlyPast, SubscriberBuffer, _time);
            if (!onlyPast) _subscribers.Add(subscription);
            return subscription;
        }
    }

    internal void Unsubscribe(EventSubscription subscription)
    {
        lock (_lock) _subscribers.Remove(subscription);
    }

    static long UnixNanos(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
}

/// <summary>An events query dockerd refuses (400).</summary>
public sealed class EventQueryException(string message) : Exception(message);

/// <summary>One <c>GET /events</c> stream: the past events, then the live ones.</summary>
public sealed class EventSubscription : IDisposable
{
    readonly EventBus _bus;
    readonly EventFilter _filter;
    readonly Channel<EventMessage> _live;
    readonly long? _untilNanos;
    readonly TimeProvider _time;
    long _dropped;

    internal EventSubscription(EventBus bus, EventFilter filter, List<EventMessage> past, long? untilNanos, bool onlyPast, int buffer, TimeProvider time)
    {
        (_bus, _filter, Past, _untilNanos, OnlyPast, _time) = (bus, filter, past, untilNanos, onlyPast, time);
        _live = Channel.CreateBounded<EventMessage>(new BoundedChannelOptions(buffer) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        if (onlyPast) _live.Writer.TryComplete();
    }

    /// <summary>The kept events the query asked for, oldest first.</summary>
    public IReadOnlyList<EventMessage> Past { get; }

    /// <summary>until was already past: the stream is <see cref="Past"/> and ends.</summary>
    public bool OnlyPast { get; }

    /// <summary>Events this subscriber lost because it was <see cref="EventBus.SubscriberBuffer"/> behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Called under the bus's lock: never waits (a full queue loses the event for this subscriber only).</summary>
    internal void Offer(EventMessage message)
    {
        if (_filter.Includes(message) && !_live.Writer.TryWrite(message)) Interlocked.Increment(ref _dropped);
    }

    /// <summary>Past, then live events until until passes, the subscription is disposed, or <paramref name="cancellation"/> (ends quietly).</summary>
    public async IAsyncEnumerable<EventMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        foreach (var e in Past) yield return e;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        if (_untilNanos is { } until)
        {
            var left = TimeSpan.FromTicks(Math.Max(0, (until - (_time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100) / 100));
            stop.CancelAfter(left);
        }
        while (true)
        {
            EventMessage next;
            try
            {
                if (!await _live.Reader.WaitToReadAsync(stop.Token).ConfigureAwait(false)) yield break;
                if (!_live.Reader.TryRead(out next!)) continue;
            }
            catch (OperationCanceledException) { yield break; }
            if (_untilNanos is { } end && next.TimeNano > end) yield break;
            yield return next;
        }
    }

    public void Dispose()
    {
        _bus.Unsubscribe(this);
        _live.Writer.TryComplete();
    }
}

/// <summary>
/// dockerd's event filters: type, event (exact; health_status, exec_create and exec_start also as prefixes), scope,
/// container/network/volume/plugin/daemon/node/service/secret/config (the actor's id or name, equal or a prefix, on
/// events of any type), image (the image's id or name with or without its tag), label (as docker ps: key or key=value).
/// Unknown keys are ignored, as dockerd ignores them.
/// </summary>
sealed class EventFilter(ApiFilters filters)
{
    static readonly string[] ByActorName = ["container", "plugin", "volume", "network", "daemon", "node", "service", "secret", "config"];

    public bool Includes(EventMessage e) =>
        MatchEvent(e.Action) && filters.ExactMatch("type", e.Type) && filters.ExactMatch("scope", e.Scope)
        && ByActorName.All(key => filters.FuzzyMatch(key, e.Actor.ID) || filters.FuzzyMatch(key, e.Actor.Attributes.GetValueOrDefault("name", "")))
        && MatchImage(e) && filters.MatchKeyValues("label", e.Actor.Attributes);

    bool MatchEvent(string action)
    {
        var values = filters.Get("event");
        return values.Any(v => v is "health_status" or "exec_create" or "exec_start") ? filters.FuzzyMatch("event", action) : filters.ExactMatch("event", action);
    }

    bool MatchImage(EventMessage e)
    {
        string name = e.Actor.Attributes.GetValueOrDefault(e.Type == "image" ? "name" : "image", "");
        return filters.ExactMatch("image", e.Actor.ID) || filters.ExactMatch("image", name) || filters.ExactMatch("image", StripTag(e.Actor.ID)) || filters.ExactMatch("image", StripTag(name));
    }

    /// <summary>The familiar repository without tag or digest: "docker.io/library/bb:latest" → "bb".</summary>
    static string StripTag(string reference)
    {
        if (reference.StartsWith("sha256:", StringComparison.Ordinal)) return reference;
        string name = reference.Split('@')[0];
        int colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/')) name = name[..colon];
        foreach (var prefix in new[] { "docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/" })
            if (name.StartsWith(prefix, StringComparison.Ordinal)) return name[prefix.Length..];
        return name;
    }
}
