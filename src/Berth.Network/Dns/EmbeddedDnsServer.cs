using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Berth.Network.Dns;

/// <summary>
/// The DNS server a container on a user-defined network finds at 127.0.0.11, as dockerd's embedded resolver
/// (libnetwork/resolver.go): A, AAAA, MX and PTR questions about the containers on the asker's networks are answered
/// from <see cref="IDnsNames"/>; everything else is forwarded to the upstream resolvers.
/// <list type="bullet">
/// <item>Own answers carry TTL 600, RA set, AA clear (dockerd's replies come from miekg/dns SetReply, which leaves AA
/// clear), the query's id, opcode, RD and CD, the question as asked, and several addresses in random order. A known
/// name without an address of the asked family (AAAA for an IPv4-only container), or an MX question for a known name,
/// gets NOERROR with no answers and is not forwarded, so resolvers do not go on to ask elsewhere.</item>
/// <item>Forwarded queries go to each upstream in order with the timeout, over UDP or TCP as the query came; SERVFAIL
/// and REFUSED replies move on to the next upstream; when none answers the client gets SERVFAIL.</item>
/// <item>Queries with QR set are ignored; other opcodes than QUERY get NOTIMP; a query without exactly one question
/// (or more records than a query carries) gets FORMERR, as miekg/dns's accept rule; undecodable packets are dropped
/// (UDP) or end the connection (TCP).</item>
/// <item>Names: the question is looked up as asked, case and all (<see cref="IDnsNames"/> compares ignoring case).
/// dockerd writes <c>options ndots:0</c> into the container's resolv.conf, so a bare container name is asked as is
/// ("web.") before any search domain is tried; berthd must do the same. dockerd's special case for a user's own ndots
/// option (a single-label name it does not know gets an empty NOERROR instead of being forwarded) is not made here.</item>
/// <item>Forwarded queries in flight are bounded (<c>maxInFlight</c>): beyond it a query is answered REFUSED at once,
/// where dockerd waits up to 4 s for a slot, so the receive loop never waits; TCP connections are bounded as well and
/// close after <c>tcpIdleTimeout</c> without a complete query. Upstream sockets are opened in the caller's network
/// namespace.</item>
/// </list>
/// </summary>
public sealed class EmbeddedDnsServer : IAsyncDisposable
{
    /// <summary>dockerd's TTL for the answers it makes itself (respTTL).</summary>
    public const uint AnswerTtl = 600;
    public const int DefaultMaxInFlight = 128;
    public const int MaxTcpConnections = 64;
    public static readonly TimeSpan DefaultTcpIdleTimeout = TimeSpan.FromSeconds(10);
    static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(10);

    readonly Socket _udp;
    readonly Socket? _tcpListener;
    readonly IDnsNames _names;
    readonly DnsForwarder _forwarder;
    readonly TimeSpan _tcpIdleTimeout;
    readonly SemaphoreSlim _inFlight;
    readonly ThrottledLog _log;
    readonly CancellationTokenSource _stop = new();
    readonly ConcurrentDictionary<Task, byte> _running = new();
    readonly ConcurrentDictionary<Socket, byte> _connections = new();
    int _tcpConnections;
    int _started;
    int _disposed;

    /// <param name="udp">A bound UDP socket; the server owns it from here and closes it on dispose.</param>
    /// <param name="tcpListener">A bound, listening TCP socket, or null to serve UDP only; owned as <paramref name="udp"/>.</param>
    /// <param name="names">The names this container may resolve.</param>
    /// <param name="upstreams">The resolvers unknown names go to, in order (dockerd: the host's resolv.conf, at most 3).</param>
    /// <param name="upstreamTimeout">How long each upstream gets to answer (dockerd: 4 s).</param>
    /// <param name="log">Where problems go (dropped packets, upstream failures), at most one line a second; never stdout.</param>
    public EmbeddedDnsServer(Socket udp, Socket? tcpListener, IDnsNames names, IReadOnlyList<IPEndPoint> upstreams, TimeSpan upstreamTimeout,
        Action<string>? log = null, TimeSpan? tcpIdleTimeout = null, int maxInFlight = DefaultMaxInFlight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        _udp = udp;
        _tcpListener = tcpListener;
        _names = names;
        _log = new ThrottledLog(log);
        _forwarder = new DnsForwarder(upstreams, upstreamTimeout, _log.Write);
        _tcpIdleTimeout = tcpIdleTimeout ?? DefaultTcpIdleTimeout;
        _inFlight = new SemaphoreSlim(maxInFlight, maxInFlight);
    }

    /// <summary>Begins serving on the sockets; returns at once.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("The embedded DNS server was started twice.");
        Track(Task.Run(ServeUdpAsync));
        if (_tcpListener is not null)
            Track(Task.Run(AcceptTcpAsync));
    }

    /// <summary>Stops serving, closes the sockets it was given and the TCP connections, and waits (bounded) for the work in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stop.Cancel();
        _udp.Dispose();
        _tcpListener?.Dispose();
        foreach (var connection in _connections.Keys)
            connection.Dispose();
        var all = Task.WhenAll(_running.Keys);
        if (await Task.WhenAny(all, Task.Delay(DisposeWait)) == all)
            _stop.Dispose();
        else // the token source stays for the stragglers, which read its token
            _log.Write($"The embedded DNS server's {_running.Count} tasks did not end within {DisposeWait.TotalSeconds} s of its stop.");
    }

    void Track(Task task)
    {
        _running[task] = 0;
        task.ContinueWith(done => _running.TryRemove(done, out _), TaskScheduler.Default);
    }

    async Task ServeUdpAsync()
    {
        var buffer = new byte[ushort.MaxValue];
        EndPoint any = _udp.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            var (got, received) = await NextAsync(token => _udp.ReceiveFromAsync(buffer, SocketFlags.None, any, token), "UDP receive");
            if (!got)
                continue;
            var client = received.RemoteEndPoint;
            var packet = buffer.AsMemory(0, received.ReceivedBytes);
            var (reply, forward) = Decide(packet.Span, overTcp: false, client);
            if (forward is not null)
            {
                if (_inFlight.Wait(0))
                {
                    var query = packet.ToArray();
                    Track(Task.Run(() => ForwardUdpAsync(query, forward, client)));
                    continue;
                }
                reply = Refused(forward);
            }
            if (reply is not null)
                await SendUdpAsync(reply, client);
        }
    }

    /// <summary>
    /// The next datagram or connection; none when the server is stopping (the loop then ends) or after a socket error,
    /// which is logged and waited out briefly so that a persistent one cannot spin the loop.
    /// </summary>
    async Task<(bool Got, T Value)> NextAsync<T>(Func<CancellationToken, ValueTask<T>> operation, string what)
    {
        try
        {
            return (true, await operation(_stop.Token));
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            return default;
        }
        catch (SocketException e)
        {
            _log.Write($"The embedded DNS server's {what} failed ({e.SocketErrorCode}); it goes on.");
            await Task.Delay(TimeSpan.FromMilliseconds(50), CancellationToken.None);
            return default;
        }
    }

    async Task ForwardUdpAsync(byte[] query, DnsMessage parsed, EndPoint client)
    {
        byte[] reply;
        try
        {
            reply = await _forwarder.ForwardAsync(query, parsed, overTcp: false, _stop.Token) ?? ServerFailure(parsed);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e)
        {
            _log.Write($"The embedded DNS server failed to forward a query: {e.GetType().Name}: {e.Message}");
            reply = ServerFailure(parsed);
        }
        finally
        {
            _inFlight.Release();
        }
        await SendUdpAsync(reply, client);
    }

    async Task SendUdpAsync(byte[] reply, EndPoint client)
    {
        try
        {
            await _udp.SendToAsync(reply, SocketFlags.None, client, _stop.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (!_stop.IsCancellationRequested)
                _log.Write($"The embedded DNS server could not send its reply to {client}: {(e as SocketException)?.SocketErrorCode.ToString() ?? e.GetType().Name}.");
        }
    }

    async Task AcceptTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var (got, connection) = await NextAsync(_tcpListener!.AcceptAsync, "TCP accept");
            if (!got)
                continue;
            if (Interlocked.Increment(ref _tcpConnections) > MaxTcpConnections)
            {
                Interlocked.Decrement(ref _tcpConnections);
                _log.Write($"The embedded DNS server closed a TCP connection from {connection.RemoteEndPoint}: {MaxTcpConnections} are open already.");
                connection.Dispose();
                continue;
            }
            _connections[connection] = 0;
            Track(Task.Run(() => ServeTcpAsync(connection)));
        }
    }

    /// <summary>Answers the queries of one connection in turn until the client closes it, idles, or sends something undecodable.</summary>
    async Task ServeTcpAsync(Socket connection)
    {
        EndPoint? client = null;
        try
        {
            client = connection.RemoteEndPoint;
            while (!_stop.IsCancellationRequested)
            {
                byte[]? query;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                {
                    idle.CancelAfter(_tcpIdleTimeout);
                    query = await DnsTcp.ReadAsync(connection, idle.Token);
                }
                if (query is null)
                    return;
                var (reply, forward) = Decide(query, overTcp: true, client);
                if (forward is not null)
                {
                    if (_inFlight.Wait(0))
                    {
                        try
                        {
                            reply = await _forwarder.ForwardAsync(query, forward, overTcp: true, _stop.Token) ?? ServerFailure(forward);
                        }
                        finally
                        {
                            _inFlight.Release();
                        }
                    }
                    else
                        reply = Refused(forward);
                }
                if (reply is null)
                    return;
                using var sending = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                sending.CancelAfter(_tcpIdleTimeout);
                await DnsTcp.WriteAsync(connection, reply, sending.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // Idle, reset, cut inside a message, or stopping: the connection ends.
        }
        catch (Exception e)
        {
            _log.Write($"The embedded DNS server's TCP connection from {client} failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            connection.Dispose();
            Interlocked.Decrement(ref _tcpConnections);
        }
    }

    /// <summary>
    /// What to do with one query: a reply to send now, or the parsed query to forward (Reply null), or neither (drop
    /// it, or for TCP, close the connection).
    /// </summary>
    (byte[]? Reply, DnsMessage? Forward) Decide(ReadOnlySpan<byte> packet, bool overTcp, EndPoint? client)
    {
        if (!DnsHeader.TryRead(packet, out var header))
        {
            _log.Write($"The embedded DNS server dropped a {packet.Length}-byte packet from {client}: shorter than a DNS header.");
            return (null, null);
        }
        if (header.IsResponse)
            return (null, null);
        if (header.Opcode != 0)
            return (DnsReply.HeaderOnly(header, DnsConstants.RcodeNotImp), null);
        if (header.QuestionCount != 1 || header.AnswerCount > 1 || header.AuthorityCount > 1 || header.AdditionalCount > 2)
            return (DnsReply.HeaderOnly(header, DnsConstants.RcodeFormErr), null);
        if (!DnsMessage.TryParse(packet, out var query, out var error))
        {
            _log.Write($"The embedded DNS server dropped a malformed query from {client}: {error}.");
            return (null, null);
        }
        try
        {
            var maxSize = overTcp ? ushort.MaxValue : Math.Max(DnsConstants.MinUdpSize, query!.EdnsUdpSize ?? 0);
            var answers = LocalAnswers(query!.Questions[0]);
            return answers is null
                ? (null, query)
                : (DnsReply.Build(header, query.Questions[0], DnsConstants.RcodeNoError, recursionAvailable: true, answers, maxSize, setTruncated: !overTcp), null);
        }
        catch (Exception e)
        {
            // The names come from berthd's state: a failure there is a server failure, not a reason to stop serving.
            _log.Write($"The embedded DNS server's name lookup failed: {e.GetType().Name}: {e.Message}");
            return (ServerFailure(query!), null);
        }
    }

    /// <summary>The records answering a question about the asker's networks, or null when the question is not about them.</summary>
    IReadOnlyList<DnsAnswer>? LocalAnswers(DnsQuestion question)
    {
        if (question.Class != DnsConstants.ClassIn || DnsName.ToText(question.Name) is not { Length: > 0 } name)
            return null;
        switch (question.Type)
        {
            case DnsConstants.TypeA or DnsConstants.TypeAaaa or DnsConstants.TypeMx:
                var addresses = _names.Lookup(name);
                if (addresses.Count == 0)
                    return null;
                if (question.Type == DnsConstants.TypeMx)
                    return []; // dockerd: an implicit MX (RFC 5321 §5.1), so mail clients go on to A/AAAA
                var answers = addresses.Where(a => DnsReply.TypeOf(a) == question.Type)
                    .Select(a => new DnsAnswer(question.Type, AnswerTtl, a.GetAddressBytes())).ToArray();
                Random.Shared.Shuffle(answers);
                return answers;
            case DnsConstants.TypePtr:
                if (DnsReply.ParseReverseName(name) is not { } address || _names.ReverseLookup(address) is not { } host)
                    return null;
                if (DnsName.FromText(host) is not { } target)
                {
                    _log.Write($"The embedded DNS server cannot answer a reverse lookup of {address} with '{host}': it is not a valid DNS name.");
                    return null;
                }
                return [new DnsAnswer(DnsConstants.TypePtr, AnswerTtl, target)];
            default:
                return null;
        }
    }

    /// <summary>dockerd's reply when no upstream answered (SetRcode: the question echoed, RA clear).</summary>
    static byte[] ServerFailure(DnsMessage query) =>
        DnsReply.Build(query.Header, query.Questions[0], DnsConstants.RcodeServFail, recursionAvailable: false, [], ushort.MaxValue, setTruncated: false);

    static byte[] Refused(DnsMessage query) =>
        DnsReply.Build(query.Header, query.Questions[0], DnsConstants.RcodeRefused, recursionAvailable: false, [], ushort.MaxValue, setTruncated: false);

    /// <summary>Passes on at most one line a second, so a container flooding the server with bad queries cannot flood berthd's log.</summary>
    sealed class ThrottledLog(Action<string>? sink)
    {
        readonly Lock _gate = new();
        long _lastTicks = long.MinValue;
        int _suppressed;

        public void Write(string line)
        {
            if (sink is null)
                return;
            string? text = null;
            lock (_gate)
            {
                var now = Environment.TickCount64;
                if (_lastTicks != long.MinValue && now - _lastTicks < 1000)
                    _suppressed++;
                else
                {
                    text = _suppressed == 0 ? line : $"{line} ({_suppressed} earlier messages were left out.)";
                    _suppressed = 0;
                    _lastTicks = now;
                }
            }
            if (text is not null)
                sink(text);
        }
    }
}
