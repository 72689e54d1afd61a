using Berth.Images.Registry;

namespace Berth.Images.Tests;

public class RegistryPartsTests
{
    private static Descriptor Entry(string os, string arch, string? variant = null) => new()
    {
        MediaType = MediaTypes.OciManifest,
        Digest = Digest.Compute(System.Text.Encoding.UTF8.GetBytes(os + arch + variant)),
        Size = 1,
        Platform = new Platform { Os = os, Architecture = arch, Variant = variant },
    };

    [Fact]
    public void Platform_selection_follows_docker_variants()
    {
        var index = new ImageIndex { Manifests = [Entry("linux", "arm64", "v8"), Entry("linux", "arm", "v7"), Entry("linux", "amd64")] };
        Assert.Equal("amd64", PlatformMatcher.Select(index, PlatformMatcher.Default, "x").Platform!.Architecture);
        Assert.Equal("arm64", PlatformMatcher.Select(index, new Platform { Os = "linux", Architecture = "aarch64" }, "x").Platform!.Architecture);
        Assert.True(PlatformMatcher.Matches(new Platform { Os = "linux", Architecture = "amd64", Variant = "v1" }, PlatformMatcher.Default));
        Assert.False(PlatformMatcher.Matches(new Platform { Os = "linux", Architecture = "amd64", Variant = "v3" }, PlatformMatcher.Default));
        Assert.False(PlatformMatcher.Matches(new Platform { Os = "windows", Architecture = "amd64" }, PlatformMatcher.Default));
    }

    [Fact]
    public void Only_other_platforms_is_docker_s_error()
    {
        var index = new ImageIndex { Manifests = [Entry("linux", "arm64"), Entry("linux", "s390x")] };
        var e = Assert.Throws<PlatformNotFoundException>(() => PlatformMatcher.Select(index, PlatformMatcher.Default, "x:1"));
        Assert.StartsWith("no matching manifest for linux/amd64 in the manifest list entries", e.Message);
        Assert.Contains("linux/arm64, linux/s390x", e.Message);
    }

    [Fact]
    public void Challenges_parse_quoted_parameters()
    {
        var c = AuthChallenge.Parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"")!;
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://auth.docker.io/token", c["realm"]);
        Assert.Equal("registry.docker.io", c["service"]);
        Assert.Equal("repository:library/busybox:pull", c["scope"]);
        Assert.Equal("basic-realm", AuthChallenge.Parse("Basic realm=\"basic-realm\"")!["realm"]);
    }

    [Theory]
    [InlineData("localhost:5000", true)]
    [InlineData("localhost", true)]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("127.1.2.3", true)]
    [InlineData("[::1]:5000", true)]
    [InlineData("docker.io", false)]
    [InlineData("10.0.0.1:5000", false)]
    [InlineData("localhost.example.com", false)]
    public void Only_loopback_registries_get_plain_http(string domain, bool plain)
    {
        using var client = new RegistryClient();
        Assert.Equal(plain ? "http" : "https", client.BaseUri(domain).Scheme);
        Assert.Equal(plain, RegistryClient.IsLoopback(domain));
    }

    [Fact]
    public void Docker_hub_goes_to_registry_1()
    {
        using var client = new RegistryClient();
        Assert.Equal("https://registry-1.docker.io/v2/", client.BaseUri("docker.io").ToString());
        using var insecure = new RegistryClient(new RegistryClientOptions { InsecureRegistries = ["reg.lan:5000"] });
        Assert.Equal("http://reg.lan:5000/v2/", insecure.BaseUri("reg.lan:5000").ToString());
    }

    [Fact]
    public void Credentials_come_from_auths_in_either_form()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, """
            {"auths":{
              "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNzOndpdGg6Y29sb25z"},
              "127.0.0.1:5000":{"username":"u2","password":"p2"},
              "http://reg.lan:5001/v2/":{"auth":"bm9jb2xvbg=="},
              "tok.example":{"identitytoken":"x"}},
             "credHelpers":{"helped.example":"ecr-login"}}
            """);
        var store = CredentialStore.Load(path);
        Assert.Equal(new RegistryCredentials("user", "pass:with:colons"), store.Find("docker.io"));
        Assert.Equal(new RegistryCredentials("u2", "p2"), store.Find("127.0.0.1:5000"));
        Assert.Null(store.Find("127.0.0.1:5001"));
        Assert.Contains("\"user:password\"", Assert.Throws<RegistryException>(() => store.Find("reg.lan:5001")).Message);
        Assert.Contains("identitytoken", Assert.Throws<RegistryException>(() => store.Find("tok.example")).Message);
        Assert.Contains("ecr-login", Assert.Throws<RegistryException>(() => store.Find("helped.example")).Message);
        Assert.Null(CredentialStore.Load(Path.Combine(dir.Path, "missing.json")).Find("docker.io"));
        File.WriteAllText(path, "{");
        Assert.Contains(path, Assert.Throws<RegistryException>(() => CredentialStore.Load(path)).Message);
    }
}
