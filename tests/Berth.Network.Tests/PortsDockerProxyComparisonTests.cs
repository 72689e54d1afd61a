using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Berth.Network.Ports;
using static Berth.Network.Tests.PortsTestKit;

namespace Berth.Network.Tests;

/// <summary>What a client sees through docker-proxy (docker.io 20.10's /usr/sbin/docker-proxy) and through ours, side by side.</summary>
public class PortsDockerProxyComparisonTests
{
    const string DockerProxy = "/usr/sbin/docker-proxy";

    /// <summary>Starts docker-proxy from 127.0.0.1:port to <paramref name="container"/>; it reports "0" on fd 3 when listening.</summary>
    static async Task<(Process, IPEndPoint)> StartDockerProxyAsync(IPEndPoint container)
    {
        for (var attempt = 0; ; attempt++)
        {
            int port;
            using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                probe.Bind(AnyLoopback);
                port = ((IPEndPoint)probe.LocalEndPoint!).Port;
            }
            var start = new ProcessStartInfo("/bin/sh", ["-c",
                $"exec {DockerProxy} -proto tcp -host-ip 127.0.0.1 -host-port {port} -container-ip {container.Address} -container-port {container.Port} 3>&1"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            var process = Process.Start(start)!;
            var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(Bound);
            if (ready == "0")
                return (process, new IPEndPoint(IPAddress.Loopback, port));
            process.Kill();
            await process.WaitForExitAsync().WaitAsync(Bound);
            process.Dispose();
            if (attempt == 5)
                Assert.Fail($"docker-proxy did not start: {ready} {await process.StandardOutput.ReadToEndAsync()}");
        }
    }

    /// <summary>A client that sends nothing: with data sent before the proxy closes, both proxies answer with a reset
    /// instead, and which comes first is a race in both.</summary>
    static async Task<string> RefusedAsync(IPEndPoint proxy)
    {
        using var client = await ConnectAsync(proxy);
        return await HowItEndsAsync(client);
    }

    [SkippableFact]
    public async Task ARefusingContainerPortEndsTheClientsConnectionAsDockerProxyDoes()
    {
        Skip.IfNot(File.Exists(DockerProxy), $"{DockerProxy} is not installed (docker.io provides it)");
        using var refusing = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(AnyLoopback);
        var container = (IPEndPoint)refusing.LocalEndPoint!;

        var (process, dockerProxyHost) = await StartDockerProxyAsync(container);
        string theirs;
        try
        {
            theirs = await RefusedAsync(dockerProxyHost);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync().WaitAsync(Bound);
            process.Dispose();
        }
        await using var proxy = PortProxy.Start(PortProtocol.Tcp, AnyLoopback, container);
        var ours = await RefusedAsync(proxy.Host);
        Assert.Equal(theirs, ours);
        Assert.Equal("eof", ours);
    }
}
