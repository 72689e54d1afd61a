namespace Berth.Oci.Tests;

public sealed class SpecLoaderTests : IDisposable
{
    private readonly string _dir = TestSpecs.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LoadsConfigJsonFromBundle()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), DefaultSpec.ToJson(TestSpecs.Valid()));
        var spec = SpecLoader.Load(_dir);
        Assert.Equal(["sh"], spec.Process!.Args!);
        Assert.Equal("rootfs", spec.Root!.Path);
    }

    [Fact]
    public void MissingBundleDirectoryIsNamed()
    {
        var missing = Path.Combine(_dir, "nope");
        var e = Assert.Throws<SpecException>(() => SpecLoader.Load(missing));
        Assert.Contains(missing, e.Message);
        Assert.Contains("no such directory", e.Message);
    }

    [Fact]
    public void BundleThatIsAFileIsRefused()
    {
        var file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "x");
        var e = Assert.Throws<SpecException>(() => SpecLoader.Load(file));
        Assert.Contains("not a directory", e.Message);
    }

    [Fact]
    public void MissingConfigJsonIsNamed()
    {
        var e = Assert.Throws<SpecException>(() => SpecLoader.Load(_dir));
        Assert.Contains(Path.Combine(_dir, "config.json"), e.Message);
        Assert.Contains("no such file or directory", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n\t ")]
    public void EmptyFileIsRefused(string text)
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), text);
        var e = Assert.Throws<SpecException>(() => SpecLoader.Load(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void MalformedJsonNamesLineColumnAndPath()
    {
        var json = "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\n    \"args\": [\"sh\",]\n  }\n}";
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(json, "/b/config.json"));
        Assert.StartsWith("/b/config.json: malformed JSON at $.process.args", e.Message);
        Assert.Contains("line 4", e.Message);
        Assert.DoesNotContain("LineNumber", e.Message);
    }

    [Fact]
    public void TruncatedJsonIsMalformed()
    {
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse("{\"ociVersion\": \"1.0.2\", \"root\": {", "c.json"));
        Assert.Contains("c.json: malformed JSON", e.Message);
    }

    [Fact]
    public void WrongTypeNamesJsonPathAndExpectation()
    {
        var json = """{"ociVersion":"1.0.2","process":{"user":{"uid":"root"},"args":["sh"],"cwd":"/"}}""";
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(json, "config.json"));
        Assert.Contains("wrong type for $.process.user.uid", e.Message);
        Assert.Contains("expected an integer from 0 to 4294967295", e.Message);
    }

    [Fact]
    public void NegativeUidIsWrongType()
    {
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse("""{"process":{"user":{"uid":-1}}}""", "config.json"));
        Assert.Contains("$.process.user.uid", e.Message);
    }

    [Fact]
    public void ArrayWhereObjectExpectedIsWrongType()
    {
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse("""{"linux":{"namespaces":{"type":"pid"}}}""", "config.json"));
        Assert.Contains("wrong type for $.linux.namespaces", e.Message);
        Assert.Contains("expected an array", e.Message);
    }

    [Fact]
    public void NullDocumentIsRefused()
    {
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse("null", "config.json"));
        Assert.Contains("null", e.Message);
    }

    [Fact]
    public void UnknownFieldsAreIgnored()
    {
        var json = """
        {"ociVersion":"1.2.0","x-vendor":{"deep":[1,2,{"a":null}]},
         "process":{"args":["true"],"cwd":"/","futureField":true,"user":{"uid":5,"gid":6,"extra":"x"}},
         "root":{"path":"rootfs","bogus":1},
         "linux":{"netDevices":{"eth0":{}},"namespaces":[{"type":"pid","color":"blue"}]}}
        """;
        var spec = SpecLoader.Parse(json, "config.json");
        Assert.Equal(5u, spec.Process!.User.Uid);
        Assert.Equal(6u, spec.Process.User.Gid);
        Assert.Equal("pid", spec.Linux!.Namespaces![0].Type);
    }

    [Fact]
    public void IdMappingsUseSpecFieldNames()
    {
        var json = """{"linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}}""";
        var map = SpecLoader.Parse(json, "config.json").Linux!.UidMappings![0];
        Assert.Equal(0u, map.ContainerId);
        Assert.Equal(100000u, map.HostId);
        Assert.Equal(65536u, map.Size);
    }
}
