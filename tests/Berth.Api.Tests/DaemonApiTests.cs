using System.Text;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Daemon.Hosting;
using Microsoft.AspNetCore.Http;

namespace Berth.Api.Tests;

public class ApiRouterTests
{
    [Theory]
    [InlineData("/v1.41/version", "1.41", "/version")]
    [InlineData("/v1.9/images/json", "1.9", "/images/json")]
    [InlineData("/version", null, "/version")]
    [InlineData("/vabc/version", null, "/vabc/version")]
    [InlineData("/volumes", null, "/volumes")]
    public void Splits_the_version_prefix(string path, string? version, string rest) =>
        Assert.Equal((version, rest), ApiRouter.SplitVersion(path));

    [Theory]
    [InlineData("GET", "/images/busybox/json", ApiEndpoint.ImageInspect, "busybox")]
    [InlineData("GET", "/images/localhost:5000/a/b:tag/json", ApiEndpoint.ImageInspect, "localhost:5000/a/b:tag")]
    [InlineData("GET", "/images/json/json", ApiEndpoint.ImageInspect, "json")]
    [InlineData("GET", "/images/127.0.0.1:5000/busybox/history", ApiEndpoint.ImageHistory, "127.0.0.1:5000/busybox")]
    [InlineData("POST", "/images/127.0.0.1:5000/busybox/push", ApiEndpoint.ImagePush, "127.0.0.1:5000/busybox")]
    [InlineData("POST", "/images/127.0.0.1:5000/busybox/tag", ApiEndpoint.ImageTag, "127.0.0.1:5000/busybox")]
    [InlineData("DELETE", "/images/127.0.0.1:5000/busybox", ApiEndpoint.ImageDelete, "127.0.0.1:5000/busybox")]
    [InlineData("DELETE", "/images/a/b/json", ApiEndpoint.ImageDelete, "a/b/json")]
    [InlineData("GET", "/images/a@sha256:00/get", ApiEndpoint.ImageSaveOne, "a@sha256:00")]
    [InlineData("GET", "/images/json", ApiEndpoint.ImageList, null)]
    [InlineData("GET", "/images/get", ApiEndpoint.ImageSave, null)]
    [InlineData("POST", "/images/create", ApiEndpoint.ImageCreate, null)]
    [InlineData("POST", "/images/load", ApiEndpoint.ImageLoad, null)]
    [InlineData("HEAD", "/_ping", ApiEndpoint.Ping, null)]
    [InlineData("POST", "/containers/create", ApiEndpoint.ContainerCreate, null)]
    [InlineData("GET", "/containers/json", ApiEndpoint.ContainerList, null)]
    [InlineData("POST", "/containers/prune", ApiEndpoint.ContainerPrune, null)]
    [InlineData("GET", "/containers/web/json", ApiEndpoint.ContainerInspect, "web")]
    [InlineData("GET", "/containers/json/json", ApiEndpoint.ContainerInspect, "json")]
    [InlineData("POST", "/containers/abc123/start", ApiEndpoint.ContainerStart, "abc123")]
    [InlineData("POST", "/containers/web/stop", ApiEndpoint.ContainerStop, "web")]
    [InlineData("POST", "/containers/web/kill", ApiEndpoint.ContainerKill, "web")]
    [InlineData("POST", "/containers/web/restart", ApiEndpoint.ContainerRestart, "web")]
    [InlineData("POST", "/containers/web/wait", ApiEndpoint.ContainerWait, "web")]
    [InlineData("POST", "/containers/web/rename", ApiEndpoint.ContainerRename, "web")]
    [InlineData("POST", "/containers/web/attach", ApiEndpoint.ContainerAttach, "web")]
    [InlineData("GET", "/containers/web/logs", ApiEndpoint.ContainerLogs, "web")]
    [InlineData("DELETE", "/containers/web", ApiEndpoint.ContainerDelete, "web")]
    public void Routes_image_names_with_slashes(string method, string path, ApiEndpoint endpoint, string? name) =>
        Assert.Equal(new ApiRoute(endpoint, name), ApiRouter.Match(method, path));

    [Theory]
    [InlineData("GET", "/nope")]
    [InlineData("POST", "/version")]
    [InlineData("GET", "/images/")]
    [InlineData("GET", "/images//json")]
    [InlineData("GET", "/images/busybox")]
    [InlineData("POST", "/images/busybox/json")]
    [InlineData("GET", "/images/busybox/tag")]
    [InlineData("GET", "/containers/a/b/json")]
    [InlineData("GET", "/containers//json")]
    [InlineData("DELETE", "/containers/a/b")]
    [InlineData("GET", "/containers/web/start")]
    [InlineData("POST", "/containers/web/json")]
    public void Unknown_routes_do_not_match(string method, string path) => Assert.Null(ApiRouter.Match(method, path));
}

public class ApiHandlerTests
{
    static readonly string DataDir = CreateDataDir();

    static string CreateDataDir()
    {
        string dir = Directory.CreateTempSubdirectory("berth-api-tests-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        return dir;
    }

    static readonly DaemonContext Context = new(
        new DaemonOptions("/tmp/data", "/tmp/exec", DaemonHost.Default, LogLevel.Error),
        new HostFacts("6.0", "Test OS", "1", "x86_64", "amd64", 2, 1024, "host", "1"),
        new EngineInfo("0.1.0", "abc", "2026-01-01T00:00:00+00:00", ".NET 10", []),
        "11111111-1111-1111-1111-111111111111",
        new Berth.Daemon.Images.ImageBackend(DataDir),
        new DaemonLog(LogLevel.Error, TextWriter.Null),
        []);

    static async Task<(int Status, string Body, IHeaderDictionary Headers)> Send(string method, string path, string query = "")
    {
        var http = new DefaultHttpContext();
        http.Request.Method = method;
        http.Request.Path = path;
        http.Request.QueryString = new QueryString(query);
        var body = new MemoryStream();
        http.Response.Body = body;
        await new ApiHandlers(Context).HandleAsync(http);
        return (http.Response.StatusCode, Encoding.UTF8.GetString(body.ToArray()), http.Response.Headers);
    }

    [Fact]
    public async Task Version_too_new_and_too_old_are_400_with_dockerds_words()
    {
        var (status, body, headers) = await Send("GET", "/v1.99/version");
        Assert.Equal(400, status);
        Assert.Equal("""{"message":"client version 1.99 is too new. Maximum supported API version is 1.44"}""", body.Trim());
        Assert.Equal("1.41", headers["Api-Version"]);
        (status, _, _) = await Send("GET", "/v1.45/version");
        Assert.Equal(400, status);
        (status, body, _) = await Send("GET", "/v1.12/version");
        Assert.Equal(400, status);
        Assert.Contains("client version 1.12 is too old. Minimum supported API version is 1.24", body);
    }

    /// <summary>
    /// Testcontainers 4 (Docker.DotNet.Enhanced) sends every request at /v1.44 without negotiating, as current dockerd
    /// accepts; berthd serves it while it still advertises 1.41, so the docker CLI keeps negotiating 1.41.
    /// </summary>
    [Fact]
    public async Task Versions_up_to_1_44_are_served_while_1_41_is_advertised()
    {
        foreach (var version in new[] { "1.42", "1.43", "1.44" })
        {
            var (status, body, headers) = await Send("GET", $"/v{version}/version");
            Assert.True(status == 200, $"/v{version}/version: {status} {body}");
            Assert.Equal("1.41", headers["Api-Version"]);
            using var json = System.Text.Json.JsonDocument.Parse(body);
            Assert.Equal("1.41", json.RootElement.GetProperty("ApiVersion").GetString());
        }
    }

    [Fact]
    public async Task Unknown_route_is_page_not_found()
    {
        var (status, body, _) = await Send("GET", "/v1.41/plugins");
        Assert.Equal(404, status);
        Assert.Equal("""{"message":"page not found"}""", body.Trim());
    }

    [Fact]
    public async Task Unknown_image_is_404_no_such_image()
    {
        var (status, body, headers) = await Send("GET", "/v1.41/images/localhost:5000/a/b:tag/json");
        Assert.Equal(404, status);
        Assert.Equal("""{"message":"No such image: localhost:5000/a/b:tag"}""", body.Trim());
        Assert.Equal("application/json", headers.ContentType);
    }

    [Fact]
    public async Task Bad_filters_are_400_and_empty_store_lists_nothing()
    {
        var (status, body, _) = await Send("GET", "/images/json", "?filters=bad");
        Assert.Equal(400, status);
        Assert.Contains("invalid filter 'bad'", body);
        (status, body, _) = await Send("GET", "/images/json", "?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D");
        Assert.Equal(200, status);
        Assert.Equal("[]", body.Trim());
    }

    [Fact]
    public async Task Pull_before_any_progress_fails_with_a_plain_status()
    {
        // Port 1 on loopback: nothing listens, so the pull fails before its first progress line.
        var (status, body, _) = await Send("POST", "/v1.41/images/create", "?fromImage=127.0.0.1%3A1%2Fnothing&tag=latest");
        Assert.Equal(500, status);
        Assert.StartsWith("{\"message\":", body);
        Assert.Contains("127.0.0.1:1", body);
        (status, body, _) = await Send("POST", "/v1.41/images/create");
        Assert.Equal(400, status);
    }

    [Fact]
    public async Task Ping_answers_as_dockerd()
    {
        var (status, body, headers) = await Send("GET", "/_ping");
        Assert.Equal(200, status);
        Assert.Equal("OK", body);
        Assert.Equal("no-cache, no-store, must-revalidate", headers.CacheControl);
        Assert.Equal("no-cache", headers.Pragma);
        Assert.Equal("linux", headers["Ostype"]);
        Assert.Equal("false", headers["Docker-Experimental"]);
        (status, body, _) = await Send("HEAD", "/_ping");
        Assert.Equal(200, status);
        Assert.Equal("", body);
    }
}

public class ProgressWriterTests
{
    [Fact]
    public async Task Writes_one_line_per_message_and_starts_the_answer_with_the_first()
    {
        var http = new DefaultHttpContext();
        var body = new MemoryStream();
        http.Response.Body = body;
        var writer = new ProgressWriter(http.Response);
        Assert.Equal(200, http.Response.StatusCode);
        await writer.WriteAsync(JsonMessage.ForStatus("Pulling from busybox", "latest"));
        await writer.WriteAsync(JsonMessage.ForProgress("25b9f29fc901", "Downloading", 32768, 1069365));
        await writer.WriteErrorAsync("unexpected EOF");
        Assert.Equal("application/json", http.Response.ContentType);
        string[] lines = Encoding.UTF8.GetString(body.ToArray()).Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("""{"status":"Pulling from busybox","id":"latest"}""", lines[0]);
        Assert.StartsWith("""{"status":"Downloading","progressDetail":{"current":32768,"total":1069365},"progress":"[=>""", lines[1]);
        Assert.EndsWith("""]  32.77kB/1.069MB","id":"25b9f29fc901"}""", lines[1]);
        Assert.Equal("""{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}""", lines[2]);
        Assert.Equal("", lines[3]);
    }
}

public class DaemonLogTests
{
    [Fact]
    public void Writes_logfmt_one_line_per_entry_and_filters_by_level()
    {
        var output = new StringWriter();
        var log = new DaemonLog(LogLevel.Info, output);
        log.Debug("hidden");
        log.Info("API listening", ("socket", "unix:///run/berth/berth.sock"), ("msg2", "two words\nand a line"));
        string text = output.ToString();
        Assert.DoesNotContain("hidden", text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        Assert.Matches("""^time="[0-9T:.\-]+Z" level=info msg="API listening" socket=unix:///run/berth/berth.sock msg2="two words\\nand a line"$""", text.TrimEnd('\n'));
        Assert.Throws<FormatException>(() => DaemonLog.ParseLevel("loud"));
    }
}
