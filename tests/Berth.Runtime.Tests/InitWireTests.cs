using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Oci;
using Berth.Runtime.Init;

namespace Berth.Runtime.Tests;

/// <summary>The init request carries the config `create` converted: nothing init needs may be lost on the way.</summary>
public class InitWireTests
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
              "linux": { "namespaces": [{ "type": "pid" }, { "type": "network", "path": "/run/netns/x" }, { "type": "uts" }, { "type": "user" }, { "type": "mount" }, { "type": "time" }],
                "gidMappings": [{ "containerID": 0, "hostID": 1000, "size": 65536 }],
                "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 65536 }],
                "sysctl": { "net.ipv4.ip_forward": "1" },
                "resources": { "memory": { "limit": 33554432, "swap": 67108864 }, "cpu": { "shares": 512, "cpus": "0" },
                  "devices": [{ "allow": false, "access": "rwm" }] },
                "devices": [{ "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 }],
                "timeOffsets": { "monotonic": { "secs": 3, "nanosecs": 4 } },
                "rootfsPropagation": "rshared", "cgroupsPath": "/a/b",
                "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"] }
            }
            """;
        var spec = SpecLoader.Parse(config, "config.json");
        var converted = Configs.ConfigConverter.Convert(spec, "/b");
        var request = new InitRequest
        {
            Config = converted, Bundle = "/b", Id = "c1", ConsoleSize = [24, 80], NoPivot = true, NewSessionKeyring = true,
            FifoFd = 5, PreserveFds = 2, ConsoleSocketFd = 6, Cgroups = [new("memory", "/sys/fs/cgroup/memory/x", false, "rw,memory")],
            Hooks = true, Seccomp = new SeccompProgram { Instructions = [1, 2, 3, 4, 5, 6, 7, 8], Flags = 3 }, SeccompListenerFd = 7,
            NewCgroupNamespace = true, Debug = true, BindSourceFds = [-1, 9],
        };

        byte[] wire = InitWire.Encode(request);
        var back = InitWire.DecodeRequest(wire);

        // Every property of the request and of its config that is not [JsonIgnore] (what init needs) came back equal.
        Assert.Equal(Json(request), Json(back));
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
    }

    [Fact]
    public void A_report_with_a_state_crosses_unchanged()
    {
        var report = new InitReport
        {
            Type = InitReport.HooksDone, Message = "m",
            State = new Oci.State { Id = "c1", Status = "creating", Pid = 42, Bundle = "/b", Rootfs = "/b/rootfs", Owner = "",
                Created = new DateTimeOffset(2026, 12, 6, 4, 50, 1, TimeSpan.FromHours(2)).AddTicks(7), Annotations = new() { ["a"] = "b" } },
        };
        var back = InitWire.DecodeReport(InitWire.Encode(report));
        Assert.Equal(Json(report), Json(back));
        Assert.Equal(report.State.Created, back.State!.Created);
        Assert.Null(InitWire.DecodeReport(InitWire.Encode(new InitReport { Type = InitReport.Ready })).State);
    }

    [Fact]
    public void A_message_cut_short_or_too_long_or_of_another_kind_is_refused()
    {
        var wire = InitWire.Encode(new InitRequest { Config = Configs.ConfigConverter.Convert(DefaultSpec.Create(false), "/b"), Bundle = "/b", Id = "c1" });
        var cut = Assert.Throws<InvalidDataException>(() => InitWire.DecodeRequest(wire[..^1]));
        Assert.Contains("cut short", cut.Message);
        var longer = Assert.Throws<InvalidDataException>(() => InitWire.DecodeRequest([.. wire, 0]));
        Assert.Contains("1 unexpected bytes", longer.Message);
        var kind = Assert.Throws<InvalidDataException>(() => InitWire.DecodeReport(wire));
        Assert.Contains("expected a report", kind.Message);
        var version = Assert.Throws<InvalidDataException>(() => InitWire.DecodeRequest([99, .. wire[1..]]));
        Assert.Contains("format 99", version.Message);
    }

    static string Json(InitRequest r) => JsonSerializer.Serialize(r, WireTestJsonContext.Default.InitRequest);
    static string Json(InitReport r) => JsonSerializer.Serialize(r, WireTestJsonContext.Default.InitReport);
}

/// <summary>JSON of the init channel's messages, only to compare them: the channel itself does not use JSON.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(InitRequest))]
[JsonSerializable(typeof(InitReport))]
internal sealed partial class WireTestJsonContext : JsonSerializerContext;
