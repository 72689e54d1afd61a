using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Berth.Daemon.Hosting;

/// <summary>
/// A connection whose "closed" notice is held back once the connection is hijacked (attach). The docker CLI shuts
/// down its write side after the request when it sends no stdin; Kestrel takes that FIN as the client's disconnect
/// and aborts the response, so the container's output would never reach it. dockerd keeps writing to a half-closed
/// connection; with this wrapper Kestrel does too. Before a hijack the notice passes through unchanged (a client
/// that leaves a wait is still seen going).
/// </summary>
public sealed class HalfCloseConnection : ConnectionContext
{
    /// <summary>The connection item a handler sets before it hijacks the connection.</summary>
    public const string HijackedKey = "berth.hijacked";

    readonly ConnectionContext _inner;
    readonly CancellationTokenSource _closed = new();

    public HalfCloseConnection(ConnectionContext inner)
    {
        _inner = inner;
        inner.ConnectionClosed.Register(() =>
        {
            if (!inner.Items.ContainsKey(HijackedKey)) _closed.Cancel();
        });
    }

    /// <summary>Marks the connection of a request as hijacked.</summary>
    public static void MarkHijacked(IFeatureCollection features)
    {
        if (features.Get<IConnectionItemsFeature>() is { } items) items.Items[HijackedKey] = true;
    }

    public override IDuplexPipe Transport { get => _inner.Transport; set => _inner.Transport = value; }
    public override string ConnectionId { get => _inner.ConnectionId; set => _inner.ConnectionId = value; }
    public override IFeatureCollection Features => _inner.Features;
    public override IDictionary<object, object?> Items { get => _inner.Items; set => _inner.Items = value; }
    public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }
    public override EndPoint? LocalEndPoint { get => _inner.LocalEndPoint; set => _inner.LocalEndPoint = value; }
    public override EndPoint? RemoteEndPoint { get => _inner.RemoteEndPoint; set => _inner.RemoteEndPoint = value; }
    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);
    public override void Abort() => _inner.Abort();

    public override async ValueTask DisposeAsync()
    {
        _closed.Dispose();
        await _inner.DisposeAsync();
    }
}
