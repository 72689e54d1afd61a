using System.Text.Json;
using Berth.Oci;
using Berth.Runtime.Init;

namespace Berth.Runtime.Tests;

/// <summary>The init request carries the spec with OciJsonContext's metadata (WireSpec): nothing may be lost on the way.</summary>
public class InitRequestJsonTests
{
    [Fact]
    public void Spec_CrossesTheChannel_Unchanged()
    {
        const string config = """
            {
              "ociVersion": "1.1.0",
              "process": { "terminal": true, "user": { "uid": 5, "gid": 6, "additionalGids": [7] }, "args": ["sh", "-c", "echo \"hi\""],
                "env": ["PATH=/bin", "X=ä"], "cwd": "/w", "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512 }],
                "consoleSize": { "height": 24, "width": 80 }, "oomScoreAdj": -5 },
              "root": { "path": "rootfs", "readonly": true },
              "hostname": "h",
              "mounts": [{ "destination": "/proc", "type": "proc", "source": "proc" },
                         { "destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"] }],
              "annotations": { "a": "b" },
              "linux": { "namespaces": [{ "type": "pid" }, { "type": "network", "path": "/run/netns/x" }],
                "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 65536 }],
                "sysctl": { "net.ipv4.ip_forward": "1" },
                "resources": { "memory": { "limit": 33554432, "swap": 67108864 }, "cpu": { "shares": 512, "cpus": "0" },
                  "devices": [{ "allow": false, "access": "rwm" }] },
                "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"] }
            }
            """;
        var spec = SpecLoader.Parse(config, "config.json");
        var request = new InitRequest { Spec = new WireSpec(spec), Bundle = "/b", Id = "c1" };

        byte[] wire = JsonSerializer.SerializeToUtf8Bytes(request, RuntimeJsonContext.Default.InitRequest);
        var back = JsonSerializer.Deserialize(wire, RuntimeJsonContext.Default.InitRequest)!;

        Assert.Equal(JsonSerializer.Serialize(spec, OciJsonContext.Default.Spec), JsonSerializer.Serialize(back.Spec.Value, OciJsonContext.Default.Spec));
        Assert.Equal(["sh", "-c", "echo \"hi\""], back.Spec.Value.Process!.Args);
        Assert.Equal(33554432, back.Spec.Value.Linux!.Resources!.Memory!.Limit);
        Assert.Equal("c1", back.Id);
    }

    [Fact]
    public void A_null_spec_on_the_wire_is_refused()
    {
        var e = Assert.Throws<JsonException>(() =>
            JsonSerializer.Deserialize("""{"spec":null,"bundle":"/b","id":"c1"}""", RuntimeJsonContext.Default.InitRequest));
        Assert.Contains("spec is null", e.Message);
    }
}
