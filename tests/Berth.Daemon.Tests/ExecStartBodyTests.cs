using System.Text;
using Berth.Daemon.Hosting;

namespace Berth.Daemon.Tests;

/// <summary>
/// The head rewrite that lets Kestrel take the docker CLI's exec start (an upgrade request with a body, which Kestrel
/// answers 400): only that request is rewritten, its Content-Length goes and its body rides in a header.
/// </summary>
public class ExecStartBodyTests
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
        Assert.Contains("\r\nUpgrade: tcp\r\n", head);
        Assert.EndsWith("\r\n" + ExecStartBody.HeaderName + ": ", head);
    }

    [Theory]
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nContent-Length: 28\nContent-Type: application/json\n\n")]          // no upgrade: Kestrel takes it
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nUpgrade: tcp\n\n")]                            // no body
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nUpgrade: tcp\nContent-Length: 0\n\n")]         // an empty body
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nTransfer-Encoding: chunked\n\n")]               // chunked
    [InlineData("POST /v1.41/containers/abc/attach HTTP/1.1\nConnection: Upgrade\nUpgrade: tcp\nContent-Length: 2\n\n")]  // another route
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nContent-Length: 2\nContent-Length: 3\n\n")]     // ambiguous length
    [InlineData("POST /v1.41/exec/abc/start HTTP/1.1\nConnection: Upgrade\nContent-Length: 2\nX-Berth-Exec-Start-Body: e30=\n\n")]
    public void Any_other_request_is_left_alone(string head) => Assert.Null(ExecStartBody.Rewrite(Head(head)));
}
