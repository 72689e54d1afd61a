using System.Text;
using Berth.Images;
using Berth.Images.Registry;
using Berth.Registry.Tests.Infrastructure;

namespace Berth.Registry.Tests;

/// <summary>Cut transfers, shared downloads and bearer tokens, through a proxy in front of a real registry.</summary>
public class FaultTests(PlainRegistryFixture fixture) : IClassFixture<PlainRegistryFixture>
{
    private readonly RegistryProcess _registry = fixture.Registry;

    private async Task<(ImageRecord Image, string Repo)> PushedImageAsync(string repo, string seed)
    {
        using var source = new Store();
        var path = $"{repo}-{Guid.NewGuid().ToString("N")[..6]}";
        var image = TestImage.Create(source.Service, $"{_registry.Domain}/{path}:1", seed);
        await source.Service.PushAsync($"{_registry.Domain}/{path}:1");
        return (image, path);
    }

    [Fact]
    public async Task A_download_cut_off_halfway_resumes_with_a_range_request()
    {
        var (image, repo) = await PushedImageAsync("cut", "cut");
        await using var proxy = new FrontProxy(_registry.Port);
        var layer = image.Layers[0]; // the busybox layer, about a megabyte
        var half = layer.Size / 2;
        proxy.CutBlob(layer.Digest, half, times: 1);

        using var target = new Store();
        var pulled = await target.Service.PullAsync($"{proxy.Domain}/{repo}:1", target.PullOptions);
        Assert.Equal(image.Id, pulled.Image.Id);
        Assert.Equal(layer.Digest, Digest.Compute(target.Service.Content.ReadAllBytes(layer.Digest)));
        var gets = proxy.Requests.Where(r => r.Method == "GET" && r.Path.EndsWith(layer.Digest.ToString(), StringComparison.Ordinal)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        // The resume starts where the received data ends: at most what the proxy sent (bytes in flight die with the reset).
        var resumedAt = long.Parse(gets[1].Range!["bytes=".Length..^1]);
        Assert.InRange(resumedAt, 1, half);
        Assert.Contains(target.Events, e => e.Id == layer.Digest.Short && e.Status == "Retrying");
        Assert.DoesNotContain(target.ContentFiles(), f => f.EndsWith(".partial", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_download_cut_off_every_time_fails_cleanly()
    {
        var (image, repo) = await PushedImageAsync("cutalways", "cut always");
        await using var proxy = new FrontProxy(_registry.Port);
        var layer = image.Layers[0];
        proxy.CutBlob(layer.Digest, 1000, times: int.MaxValue);

        using var target = new Store(new RegistryClientOptions { MaxAttempts = 3 });
        var e = await Assert.ThrowsAsync<RegistryException>(() => target.Service.PullAsync($"{proxy.Domain}/{repo}:1"));
        Assert.True(e.Message.Contains($"blob {layer.Digest}: gave up after 3 attempts"), e.Message);
        Assert.Equal(3, proxy.BlobGets(layer.Digest));
        Assert.Empty(target.ContentFiles()); // no blob, no partial data, no manifest
        Assert.Empty(target.Service.List());
    }

    [Fact]
    public async Task Parallel_pulls_of_images_sharing_a_layer_download_it_once()
    {
        var (a, repoA) = await PushedImageAsync("share-a", "share a");
        var (b, repoB) = await PushedImageAsync("share-b", "share b");
        Assert.Equal(a.Layers[0].Digest, b.Layers[0].Digest);
        await using var proxy = new FrontProxy(_registry.Port);

        using var target = new Store();
        await Task.WhenAll(
            target.Service.PullAsync($"{proxy.Domain}/{repoA}:1"),
            target.Service.PullAsync($"{proxy.Domain}/{repoB}:1"),
            target.Service.PullAsync($"{proxy.Domain}/{repoA}:1"));
        Assert.Equal(1, proxy.BlobGets(a.Layers[0].Digest));
        Assert.Equal(1, proxy.BlobGets(a.Layers[1].Digest));
        Assert.Equal(1, proxy.BlobGets(b.Layers[1].Digest));
        Assert.Equal(2, target.Service.List().Count);
    }

    [Fact]
    public async Task Bearer_tokens_come_from_the_challenge_realm_and_are_cached_per_scope()
    {
        var (image, repo) = await PushedImageAsync("bearer", "bearer");
        await using var proxy = new FrontProxy(_registry.Port) { RequireBearer = true, TokenNeedsCredentials = true };
        using var dir = new TempDir();
        var config = Path.Combine(dir.Path, "config.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{FrontProxy.TokenUser}:{FrontProxy.TokenPassword}"));
        File.WriteAllText(config, "{\"auths\":{\"" + proxy.Domain + "\":{\"auth\":\"" + auth + "\"}}}");

        using var target = new Store(new RegistryClientOptions { Credentials = CredentialStore.Load(config) });
        var pulled = await target.Service.PullAsync($"{proxy.Domain}/{repo}:1");
        Assert.Equal(image.Id, pulled.Image.Id);
        Assert.Equal(1, proxy.TokenRequests); // manifest, config and two layers under one token

        using var anonymous = new Store();
        var e = await Assert.ThrowsAsync<RegistryUnauthorizedException>(() => anonymous.Service.PullAsync($"{proxy.Domain}/{repo}:1"));
        Assert.Contains("token request to http://" + proxy.Domain + "/token failed", e.Message);
        Assert.Contains("bad token credentials", e.Message);
        Assert.Empty(anonymous.ContentFiles());
    }
}

/// <summary>A registry with htpasswd basic auth.</summary>
public class BasicAuthTests(AuthRegistryFixture fixture) : IClassFixture<AuthRegistryFixture>
{
    private readonly RegistryProcess _registry = fixture.Registry;

    private static string ConfigJson(TempDir dir, string domain, string user, string password, bool base64)
    {
        var path = Path.Combine(dir.Path, "config.json");
        var entry = base64
            ? $$"""{"auth":"{{Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"))}}"}"""
            : $$"""{"username":"{{user}}","password":"{{password}}"}""";
        File.WriteAllText(path, "{\"auths\":{\"http://" + domain + "\":" + entry + "}}");
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Basic_auth_from_a_config_json_pushes_and_pulls(bool base64)
    {
        using var dir = new TempDir();
        var options = new RegistryClientOptions
        {
            Credentials = CredentialStore.Load(ConfigJson(dir, _registry.Domain, RegistryProcess.User, RegistryProcess.Password, base64)),
        };
        using var source = new Store(options);
        var name = $"{_registry.Domain}/auth-{Guid.NewGuid().ToString("N")[..6]}:1";
        var image = TestImage.Create(source.Service, name, "auth");
        var pushed = await source.Service.PushAsync(name);
        using var target = new Store(options);
        var pulled = await target.Service.PullAsync(name);
        Assert.Equal(image.Id, pulled.Image.Id);
        Assert.Equal(pushed.ManifestDigest, pulled.ManifestDigest);
    }

    [Fact]
    public async Task Without_credentials_a_401_is_a_clear_error_and_nothing_is_stored()
    {
        using var target = new Store();
        var name = $"{_registry.Domain}/noauth:1";
        var e = await Assert.ThrowsAsync<RegistryUnauthorizedException>(() => target.Service.PullAsync(name));
        Assert.Contains($"GET http://{_registry.Domain}/v2/noauth/manifests/1", e.Message);
        Assert.Contains($"no basic auth credentials for {_registry.Domain}", e.Message);
        Assert.Empty(target.ContentFiles());
        Assert.Empty(target.Service.List());

        using var source = new Store();
        TestImage.Create(source.Service, name, "noauth");
        var push = await Assert.ThrowsAsync<RegistryUnauthorizedException>(() => source.Service.PushAsync(name));
        Assert.Contains("no basic auth credentials", push.Message);
    }

    [Fact]
    public async Task A_wrong_password_is_refused()
    {
        using var dir = new TempDir();
        var options = new RegistryClientOptions { Credentials = CredentialStore.Load(ConfigJson(dir, _registry.Domain, RegistryProcess.User, "wrong", true)) };
        using var target = new Store(options);
        var e = await Assert.ThrowsAsync<RegistryUnauthorizedException>(() => target.Service.PullAsync($"{_registry.Domain}/wrongpw:1"));
        Assert.Contains("credentials were refused", e.Message);
        Assert.Contains("unauthorized", e.Message);
        Assert.Empty(target.ContentFiles());
    }
}
