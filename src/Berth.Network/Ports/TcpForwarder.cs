using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Berth.Network.Ports;

/// <summary>Accepts on the host address and, per client, connects to the container and copies both ways. A direction
/// that ends is passed on as shutdown(SHUT_WR) to the other side (as docker-proxy's CloseWrite); both sockets close
/// when both directions ended, or at once when either side fails.</summary>
sealed class TcpForwarder(Socket listener, IPEndPoint container, PortProxyOptions options, Action<string> log) : IForwarder
{
    const int BufferSize = 32 * 1024;
    readonly CancellationTokenSource stopping = new();
    readonly ConcurrentDictionary<Connection, byte> connections = new();

    public int ActiveCount => connections.Count;

    public async Task RunAsync()
    {
        var handlers = new ConcurrentDictionary<Task, byte>();
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || stopping.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                // EMFILE and the like pass: keep serving the connections that are open, and try again shortly.
                log($"Cannot accept on tcp/{listener.LocalEndPoint}: {SocketErrors.Describe(e)}");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            var handler = ServeAsync(client);
            handlers.TryAdd(handler, 0);
            _ = handler.ContinueWith(t => handlers.TryRemove(t, out _), TaskScheduler.Default);
        }
        await Task.WhenAll(handlers.Keys).ConfigureAwait(false);
    }

    public void Close()
    {
        stopping.Cancel();
        listener.Dispose();
        foreach (var connection in connections.Keys)
            connection.Abort();
    }

    async Task ServeAsync(Socket client)
    {
        var backend = new Socket(container.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        var connection = new Connection(client, backend);
        connections.TryAdd(connection, 0);
        try
        {
            // Registered before the check, so a Close racing with the accept cannot miss this connection.
            if (stopping.IsCancellationRequested)
                return;
            client.NoDelay = true;
            backend.NoDelay = true;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token))
            {
                timeout.CancelAfter(options.ConnectTimeout);
                try
                {
                    await backend.ConnectAsync(container, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    if (!stopping.IsCancellationRequested)
                        log($"Can't forward traffic to backend tcp/{container}: {(e is SocketException s ? SocketErrors.Describe(s) : $"no connection within {options.ConnectTimeout.TotalSeconds:0.###} s")}");
                    return;
                }
            }
            var toContainer = CopyAsync(connection, client, backend);
            var toClient = CopyAsync(connection, backend, client);
            await Task.WhenAll(toContainer, toClient).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Closed by Close() while connecting or copying.
        }
        finally
        {
            connections.TryRemove(connection, out _);
            connection.Abort();
        }
    }

    /// <summary>Copies until <paramref name="from"/> ends (then shuts down <paramref name="to"/>'s sending side) or fails
    /// (then aborts the connection: a reset on one side is not turned into an orderly end on the other).</summary>
    async Task CopyAsync(Connection connection, Socket from, Socket to)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(0, BufferSize), SocketFlags.None, stopping.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                var sent = 0;
                while (sent < read)
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            connection.Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A client and its backend socket; aborting closes both (idempotent, from any thread).</summary>
    sealed class Connection(Socket client, Socket backend)
    {
        int aborted;

        public void Abort()
        {
            if (Interlocked.Exchange(ref aborted, 1) != 0)
                return;
            client.Dispose();
            backend.Dispose();
        }
    }
}
