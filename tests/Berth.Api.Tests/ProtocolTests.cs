using Berth.Api;

namespace Berth.Api.Tests;

public class ApiVersionTests
{
    [Theory]
    [InlineData("1.41", 1, 41)]
    [InlineData("1.9", 1, 9)]
    [InlineData("2.0", 2, 0)]
    public void Parses(string text, int major, int minor)
    {
        Assert.True(ApiVersion.TryParse(text, out var v));
        Assert.Equal(new ApiVersion(major, minor), v);
        Assert.Equal(text, v.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("1")]
    [InlineData("1.")]
    [InlineData(".1")]
    [InlineData("1.x")]
    [InlineData("1..2")]
    [InlineData("-1.2")]
    public void Rejects(string text) => Assert.False(ApiVersion.TryParse(text, out _));

    [Fact]
    public void Compares_numerically_not_as_text() => Assert.True(new ApiVersion(1, 9) < new ApiVersion(1, 41));

    [Fact]
    public void Negotiates_down_never_up()
    {
        var ours = new ApiVersion(1, 41);
        Assert.Equal(new ApiVersion(1, 41), ApiVersion.Negotiate(ours, new ApiVersion(1, 50)));
        Assert.Equal(new ApiVersion(1, 25), ApiVersion.Negotiate(ours, new ApiVersion(1, 25)));
        Assert.Equal(new ApiVersion(1, 12), ApiVersion.Negotiate(ours, new ApiVersion(1, 12)));
        // No Api-Version header: docker's 1.24.
        Assert.Equal(new ApiVersion(1, 24), ApiVersion.Negotiate(ours, null));
        Assert.Equal(new ApiVersion(1, 20), ApiVersion.Negotiate(new ApiVersion(1, 20), null));
    }
}

public class AuthConfigTests
{
    [Fact]
    public void Empty_credentials_are_docker_e30() => Assert.Equal("e30=", new AuthConfig().ToHeader());

    [Fact]
    public void Round_trips_url_safe_base64()
    {
        // '?' and '>' in the password make '/' and '+' in standard base64: the header must be URL-safe.
        var auth = new AuthConfig { Username = "u", Password = "p??>>>~~", ServerAddress = "127.0.0.1:5000" };
        string header = auth.ToHeader();
        Assert.DoesNotContain('+', header);
        Assert.DoesNotContain('/', header);
        var back = AuthConfig.FromHeader(header)!;
        Assert.Equal("p??>>>~~", back.Password);
        Assert.Equal("127.0.0.1:5000", back.ServerAddress);
        Assert.Equal("u", AuthConfig.FromHeader(header.TrimEnd('='))!.Username);
    }

    [Fact]
    public void Bad_header_names_the_header()
    {
        var e = Assert.Throws<FormatException>(() => AuthConfig.FromHeader("!!!notbase64"));
        Assert.Contains("X-Registry-Auth", e.Message);
        Assert.Null(AuthConfig.FromHeader(""));
    }
}

public class ApiFiltersTests
{
    [Fact]
    public void Reads_map_of_sets_and_map_of_lists()
    {
        Assert.Equal(["true"], ApiFilters.Parse("""{"dangling":{"true":true}}""").Get("dangling"));
        Assert.Equal(["a=b", "c"], ApiFilters.Parse("""{"label":["a=b","c"]}""").Get("label"));
        Assert.Empty(ApiFilters.Parse("""{"dangling":{"true":false}}""").Get("dangling"));
        Assert.True(ApiFilters.Parse(null).IsEmpty);
    }

    [Fact]
    public void Rejects_bad_json_quoting_it()
    {
        var e = Assert.Throws<FormatException>(() => ApiFilters.Parse("bad"));
        Assert.Contains("'bad'", e.Message);
        Assert.Throws<FormatException>(() => ApiFilters.Parse("""{"a":1}"""));
    }

    [Fact]
    public void Pairs_become_the_query_value()
    {
        var filters = ApiFilters.FromPairs(["dangling=true", "reference=busybox:*"]);
        Assert.Equal("""{"dangling":{"true":true},"reference":{"busybox:*":true}}""", filters.ToQueryValue());
        Assert.Throws<FormatException>(() => ApiFilters.FromPairs(["novalue"]));
    }
}

public class ReferenceAndHostTests
{
    [Theory]
    [InlineData("busybox", "busybox", null)]
    [InlineData("busybox:1.36", "busybox", "1.36")]
    [InlineData("localhost:5000/a/b", "localhost:5000/a/b", null)]
    [InlineData("localhost:5000/a/b:tag", "localhost:5000/a/b", "tag")]
    [InlineData("a@sha256:abc", "a", "sha256:abc")]
    public void Splits_tag_from_repository(string reference, string repository, string? tag)
    {
        Assert.Equal((repository, tag), ImageReferenceText.Split(reference));
    }

    [Fact]
    public void Host_accepts_unix_only()
    {
        Assert.Equal("/tmp/x.sock", DaemonHost.Parse("unix:///tmp/x.sock").SocketPath);
        Assert.Equal(DaemonHost.DefaultSocket, DaemonHost.Parse("unix://").SocketPath);
        Assert.Contains("TCP is not supported", Assert.Throws<FormatException>(() => DaemonHost.Parse("tcp://127.0.0.1:2375")).Message);
        Assert.Throws<FormatException>(() => DaemonHost.Parse("unix://relative.sock"));
        Assert.Throws<FormatException>(() => DaemonHost.Parse("/tmp/x.sock"));
    }
}
