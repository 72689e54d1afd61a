using System.Text.Json;
using Berth.Oci;

namespace Berth.Oci.Tests;

public class ParseSmokeTests
{
    [Fact]
    public void ReadsNamespacesAndIgnoresUnknownFields()
    {
        var spec = JsonSerializer.Deserialize("""{"ociVersion":"1.0.2","x-unknown":1,"linux":{"namespaces":[{"type":"pid"}]}}""", OciJsonContext.Default.Spec)!;
        Assert.Equal("pid", spec.Linux!.Namespaces![0].Type);
    }
}
