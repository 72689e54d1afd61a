using System.Net.Sockets;
using System.Text;
using Berth.Daemon.Hosting;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>
/// The head rewrite that lets Kestrel upgrade the docker CLI's exec start (an upgrade request with a body, whose
/// Upgrade Kestrel ignores, so berthd could only answer 400): only that request is rewritten, its Content-Length goes
/// and its body rides in a header.
/// </summary>
public class ExecStartBodyTests(SharedDaemon shared) : IClassFixture<SharedDaemon>
{
    static byte[] Head(string text) => Encoding.ASCII.GetBytes(text.Replace("\n", "\r\n"));

    [Fact]
    public void The_docker_clis_exec_start_loses_its_content_length_and_names_the_body_header()
    {
        var rewrite = ExecStartBody.Rewrite(Head("POST /v1.41/exec/abc123/start HTTP/1.1\nHost: api.moby.localhost\nUser-Agent: Docker-Client/20.10.21 (linux)\n" +
                                                 "Content-Length: 28\nConnection: Upgrade\nContent-Type: application/json\nUpgrade: tcp\n\n"));
        Assert.NotNull(rewrite);
        Assert.Equal(28, rewrite.Value.BodyLength);
        string head = Encoding.ASCII.GetString(rewrite.Value.Head);
        Assert.DoesNotContain("Content-Length", head);
        Assert.StartsWith("POST /v1.41/exec/abc123/start HTTP/1.1\r\n", head);
        Assert.DoesNotContain(ExecStartBody.PlainHijackMarker, head);
        Assert.EndsWith("\r\nUpgrade: tcp", head);
    }

    /// <summary>
    /// Docker.DotNet 3 hijacks without an Upgrade header, with Connection: close and its header lines ended by a bare LF
    /// (as captured from its StartAndAttachContainerExecAsync): an upgrade for Kestrel, marked so the 101 goes out as
    /// dockerd's 200 OK.
    /// </summary>
    [Theory]
    [InlineData("POST /exec/abc123/start HTTP/1.1\r\nUser-Agent: Docker.DotNet\nHost: dump.sock:80\nConnection: close\nContent-Type: application/json; charset=utf-8\nContent-Length: 60\n\r\n", 60)]
    [InlineData("POST /containers/abc123/attach?stream=1&stdout=1 HTTP/1.1\r\nUser-Agent: Docker.DotNet\nHost: dump.sock:80\nConnection: close\n\r\n", 0)]
    public void A_hijack_without_an_upgrade_becomes_a_marked_upgrade(string request, int bodyLength)
    {
        var rewrite = ExecStartBody.Rewrite(Encoding.ASCII.GetBytes(request));
        Assert.NotNull(rewrite);
        Assert.Equal(bodyLength, rewrite.Value.BodyLength);
        string[] lines = Encoding.ASCII.GetString(rewrite.Value.Head).Split("\r\n");
        Assert.Equal(request[..request.IndexOf('\r')], lines[0]);
        Assert.Equal(["Connection: Upgrade", "Upgrade: tcp", ExecStartBody.PlainHijackMarker + ": 1"], lines[^3..]);
        Assert.DoesNotContain("Connection: close", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("Content-Length", StringComparison.Ordinal) || l.Contains('\n'));
    }

    [Theory]
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nUpgrade: tcp\n\n")]                            // no body
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nUpgrade: tcp\nContent-Length: 0\n\n")]         // an empty body
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nTransfer-Encoding: chunked\n\n")]               // chunked
    [InlineData("POST /v1.41/containers/abc/attach HTTP/1.1\nConnection: Upgrade\nUpgrade: tcp\nContent-Length: 2\n\n")]  // an attach upgrade
    [InlineData("POST /v1.41/containers/abc/wait HTTP/1.1\nContent-Length: 2\n\n")]                                        // another route
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nContent-Length: 2\nContent-Length: 3\n\n")]     // ambiguous length
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nContent-Length: 2\nX-Berth-Exec-Start-Body: e30=\n\n")]
    public void Any_other_request_is_left_alone(string head) => Assert.Null(ExecStartBody.Rewrite(Head(head)));

    /// <summary>
    /// Over berthd's socket, the head and the body in two writes apart (as the berth CLI sends them): Kestrel gets the
    /// request (the unknown exec's 404) instead of a request Kestrel will not upgrade (berthd's 400).
    /// </summary>
    [SkippableFact]
    public async Task An_exec_start_upgrade_with_a_body_in_two_writes_reaches_the_handler()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(shared.Daemon.Socket));
        await using var stream = new NetworkStream(socket);
        byte[] body = "{\"Detach\":false,\"Tty\":false}"u8.ToArray();
        await stream.WriteAsync(Head($"POST /v1.41/exec/nope-exec/start HTTP/1.1\nHost: berth\nConnection: Upgrade\nUpgrade: tcp\nContent-Type: application/json\nContent-Length: {body.Length}\n\n"));
        await Task.Delay(300);
        await stream.WriteAsync(body);
        // The answer's head and its JSON error (Kestrel keeps the connection open after it).
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!answer.ToString().Contains("}"))
        {
            int n;
            try
            {
                n = await stream.ReadAsync(buffer, bound.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"berthd did not answer the exec start within 60 s; so far: {answer}");
            }
            if (n == 0) break;
            answer.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        Assert.StartsWith("HTTP/1.1 404 ", answer.ToString());
        Assert.Contains("No such exec instance: nope-exec", answer.ToString());
    }
}
