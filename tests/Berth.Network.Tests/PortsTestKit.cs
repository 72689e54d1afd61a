using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Berth.Network.Tests;

/// <summary>Loopback servers playing "the container" and helpers for the proxy tests; every wait is bounded.</summary>
static class PortsTestKit
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    public static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    /// <summary>A TCP server on 127.0.0.1 that runs <paramref name="serve"/> for each connection until disposed.</summary>
    public sealed class TcpServer : IDisposable
    {
        readonly Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        readonly CancellationTokenSource stop = new();

        public TcpServer(Func<Socket, Task> serve, Socket? bound = null)
        {
            if (bound != null)
                listener = bound;
            else
                listener.Bind(AnyLoopback);
            listener.Listen(512);
            _ = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Socket s;
                    try { s = await listener.AcceptAsync(stop.Token); }
                    catch { return; }
                    _ = Task.Run(async () => { using (s) { try { await serve(s); } catch (Exception) { } } });
                }
            });
        }

        public IPEndPoint EndPoint => (IPEndPoint)listener.LocalEndPoint!;

        public void Dispose()
        {
            stop.Cancel();
            listener.Dispose();
        }
    }

    /// <summary>Echoes until the client ends, then ends its side too.</summary>
    public static async Task Echo(Socket s)
    {
        var buffer = new byte[16384];
        int read;
        while ((read = await s.ReceiveAsync(buffer)) > 0)
            await s.SendAsync(buffer.AsMemory(0, read));
        s.Shutdown(SocketShutdown.Send);
    }

    public static async Task<Socket> ConnectAsync(IPEndPoint to)
    {
        var s = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(Bound);
        await s.ConnectAsync(to, timeout.Token);
        return s;
    }

    /// <summary>Everything until the peer's end of stream, within <see cref="Bound"/>.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket s)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var all = new MemoryStream();
        var buffer = new byte[16384];
        int read;
        while ((read = await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            all.Write(buffer, 0, read);
        return all.ToArray();
    }

    /// <summary>How a connection ends for its reader: "eof", "reset", or the bytes it got before the end.</summary>
    public static async Task<string> HowItEndsAsync(Socket s)
    {
        try
        {
            var data = await ReadToEndAsync(s);
            return data.Length == 0 ? "eof" : "data:" + Encoding.ASCII.GetString(data);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return "reset";
        }
    }

    /// <summary>The sockets among this process's fds that a proxy from <paramref name="hostPort"/> to
    /// <paramref name="containerPort"/> holds: bound to the host port (listener, accepted clients) or connected to the
    /// container's port (backends, flows). The tests' own clients and servers match neither.</summary>
    public static int ProxySockets(int hostPort, int containerPort)
    {
        var ours = new HashSet<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target != null && target.StartsWith("socket:[", StringComparison.Ordinal))
                    ours.Add(target[8..^1]);
            }
            catch (IOException) { }
        }
        var count = 0;
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6" })
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = Convert.ToInt32(f[1][(f[1].IndexOf(':') + 1)..], 16);
                var remote = Convert.ToInt32(f[2][(f[2].IndexOf(':') + 1)..], 16);
                if ((local == hostPort || remote == containerPort) && ours.Contains(f[9]))
                    count++;
            }
        return count;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after <see cref="Bound"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out after {Bound.TotalSeconds} s waiting for {what}");
            await Task.Delay(20);
        }
    }
}
