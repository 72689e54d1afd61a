namespace Berth.Images.Tests;

public class ImageReferenceTests
{
    private const string Hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    // input, full normalised string, familiar string (docker's ParseNormalizedNamed + TagNameOnly, FamiliarString).
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36")]
    [InlineData("library/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("index.docker.io/user/app:v1", "docker.io/user/app:v1", "user/app:v1")]
    [InlineData("user/app", "docker.io/user/app:latest", "user/app:latest")]
    [InlineData("user/app/sub", "docker.io/user/app/sub:latest", "user/app/sub:latest")]
    [InlineData("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest")]
    [InlineData("localhost/x", "localhost/x:latest", "localhost/x:latest")]
    [InlineData("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest")]
    [InlineData("127.0.0.1:5000/x:y", "127.0.0.1:5000/x:y", "127.0.0.1:5000/x:y")]
    [InlineData("host.example.com/a/b:tag", "host.example.com/a/b:tag", "host.example.com/a/b:tag")]
    [InlineData("host:5000/library/x", "host:5000/library/x:latest", "host:5000/library/x:latest")]
    [InlineData("Foo/bar", "Foo/bar:latest", "Foo/bar:latest")] // an uppercase first component is a registry
    [InlineData("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest")]
    [InlineData("foo_bar", "docker.io/library/foo_bar:latest", "foo_bar:latest")]
    [InlineData("foo__bar", "docker.io/library/foo__bar:latest", "foo__bar:latest")]
    [InlineData("foo---bar.baz", "docker.io/library/foo---bar.baz:latest", "foo---bar.baz:latest")]
    [InlineData("busybox:Tag_1.0-rc", "docker.io/library/busybox:Tag_1.0-rc", "busybox:Tag_1.0-rc")]
    [InlineData("busybox@sha256:" + Hex, "docker.io/library/busybox@sha256:" + Hex, "busybox@sha256:" + Hex)]
    [InlineData("busybox:1.36@sha256:" + Hex, "docker.io/library/busybox:1.36@sha256:" + Hex, "busybox:1.36@sha256:" + Hex)]
    [InlineData("localhost:5000/x@sha256:" + Hex, "localhost:5000/x@sha256:" + Hex, "localhost:5000/x@sha256:" + Hex)]
    public void Normalises_as_docker(string input, string full, string familiar)
    {
        var reference = ImageReference.Parse(input);
        Assert.Equal(full, reference.ToString());
        Assert.Equal(familiar, reference.FamiliarString);
        Assert.Equal(reference, ImageReference.Parse(reference.ToString()));
    }

    [Fact]
    public void Parts_and_registry_reference()
    {
        var r = ImageReference.Parse("127.0.0.1:5000/a/b:t@sha256:" + Hex);
        Assert.Equal("127.0.0.1:5000", r.Domain);
        Assert.Equal("a/b", r.Path);
        Assert.Equal("t", r.Tag);
        Assert.Equal("sha256:" + Hex, r.RegistryReference); // the digest decides what is pulled
        Assert.Equal("latest", ImageReference.Parse("x").RegistryReference);
        Assert.Null(ImageReference.ParseNormalized("x").Tag); // no default tag when asked not to
    }

    [Theory]
    [InlineData("", "invalid reference format")]
    [InlineData("BusyBox", "repository name (library/BusyBox) must be lowercase")]
    [InlineData("user/App", "repository name (user/App) must be lowercase")]
    [InlineData(Hex, "cannot specify 64-byte hexadecimal strings")]
    [InlineData("busybox:", "invalid reference format")]
    [InlineData(":tag", "invalid reference format")]
    [InlineData("foo//bar", "invalid reference format")]
    [InlineData("-foo", "invalid reference format")]
    [InlineData("foo___bar", "invalid reference format")]
    [InlineData("foo..bar", "invalid reference format")]
    [InlineData("foo_", "invalid reference format")]
    [InlineData("busybox:-tag", "invalid reference format")]
    [InlineData("busybox:t@g", "invalid reference format")]
    [InlineData("busybox@sha256:abc", "invalid reference format")]
    [InlineData("busybox@sha512:" + Hex + Hex, "unsupported digest")]
    [InlineData("host:port/x", "invalid reference format")]
    [InlineData("busybox:täg", "invalid reference format")]
    public void Refuses_invalid_references_naming_them(string input, string reason)
    {
        var e = Assert.Throws<ReferenceException>(() => ImageReference.Parse(input));
        Assert.Contains(reason, e.Message);
        Assert.Contains($"\"{input}\"", e.Message);
        Assert.False(ImageReference.TryParse(input, out _));
    }

    [Fact]
    public void Enforces_docker_lengths()
    {
        Assert.NotNull(ImageReference.Parse("x:" + new string('t', 128)));
        Assert.Throws<ReferenceException>(() => ImageReference.Parse("x:" + new string('t', 129)));
        // The limit applies to the normalised name, "docker.io/library/" included.
        var path = new string('a', 255 - "docker.io/u/".Length);
        Assert.NotNull(ImageReference.Parse("u/" + path));
        var e = Assert.Throws<ReferenceException>(() => ImageReference.Parse("u/" + path + "a"));
        Assert.Contains("must not be more than 255 characters", e.Message);
    }

    [Fact]
    public void WithTag_and_WithDigest_replace_the_suffix()
    {
        var r = ImageReference.Parse("busybox:1");
        Assert.Equal("docker.io/library/busybox:2", r.WithTag("2").ToString());
        Assert.Equal("docker.io/library/busybox@sha256:" + Hex, r.WithDigest(Digest.Parse("sha256:" + Hex)).ToString());
        Assert.Throws<ReferenceException>(() => r.WithTag("no/slash"));
    }
}
