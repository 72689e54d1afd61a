using System.Text;
using System.Text.Json;
using Berth.Oci;
using Berth.Runtime.Init;

namespace Berth.Runtime.Tests;

/// <summary>The init request carries the config `create` converted: nothing init needs may be lost on the way.</summary>
public class InitRequestJsonTests
{
    [Fact]
    public void TheConvertedConfig_CrossesTheChannel_Unchanged()
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
              "hooks": { "createContainer": [{ "path": "/bin/h", "args": ["h", "x"], "timeout": 3 }] },
              "linux": { "namespaces": [{ "type": "pid" }, { "type": "network", "path": "/run/netns/x" }, { "type": "uts" }, { "type": "user" }, { "type": "mount" }],
                "gidMappings": [{ "containerID": 0, "hostID": 1000, "size": 65536 }],
                "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 65536 }],
                "sysctl": { "net.ipv4.ip_forward": "1" },
                "resources": { "memory": { "limit": 33554432, "swap": 67108864 }, "cpu": { "shares": 512, "cpus": "0" },
                  "devices": [{ "allow": false, "access": "rwm" }] },
                "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"] }
            }
            """;
        var spec = SpecLoader.Parse(config, "config.json");
        var converted = Configs.ConfigConverter.Convert(spec, "/b");
        var request = new InitRequest { Config = converted, Bundle = "/b", Id = "c1", ConsoleSize = [24, 80] };

        byte[] wire = JsonSerializer.SerializeToUtf8Bytes(request, RuntimeJsonContext.Default.InitRequest);
        var back = JsonSerializer.Deserialize(wire, RuntimeJsonContext.Default.InitRequest)!;

        Assert.Equal(Encoding.UTF8.GetString(wire), Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(back, RuntimeJsonContext.Default.InitRequest)));
        var c = back.Config;
        Assert.Equal(["sh", "-c", "echo \"hi\""], c.Process.Args);
        Assert.Equal(["PATH=/bin", "X=ä"], c.Process.Env);
        Assert.Equal((5u, 6u), (c.Process.Uid, c.Process.Gid));
        Assert.Equal([7u], c.Process.AdditionalGids);
        Assert.Equal(converted.Process.Rlimits, c.Process.Rlimits);
        Assert.Equal(-5, c.Process.OomScoreAdj);
        Assert.Equal("/b/rootfs", c.Rootfs);
        Assert.True(c.ReadonlyRootfs);
        Assert.Equal(converted.Namespaces, c.Namespaces);
        Assert.Equal("/run/netns/x", c.Get(Configs.NamespaceKind.Network)!.Path);
        Assert.Equal(converted.UidMappings, c.UidMappings);
        Assert.Equal(converted.Mounts.Select(m => (m.Destination, m.Flags, m.ClearFlags, m.Data)), c.Mounts.Select(m => (m.Destination, m.Flags, m.ClearFlags, m.Data)));
        Assert.Equal(converted.Devices, c.Devices);
        Assert.Equal("1", c.Sysctl["net.ipv4.ip_forward"]);
        Assert.Equal(["/proc/kcore"], c.MaskedPaths);
        Assert.Equal(["h", "x"], c.Hooks!.CreateContainer![0].Args);
        Assert.Equal(3, c.Hooks.CreateContainer[0].Timeout);
        Assert.Equal(new ushort[] { 24, 80 }, back.ConsoleSize);
        Assert.Equal("c1", back.Id);
        // What init does not need stays with the runtime.
        Assert.Null(c.Resources);
        Assert.DoesNotContain("33554432", Encoding.UTF8.GetString(wire));
    }

    [Fact]
    public void A_request_without_a_config_is_refused()
    {
        Assert.Throws<JsonException>(() =>
            JsonSerializer.Deserialize("""{"bundle":"/b","id":"c1"}""", RuntimeJsonContext.Default.InitRequest));
    }
}
