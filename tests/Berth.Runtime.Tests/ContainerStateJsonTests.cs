using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Oci;
using Berth.Runtime.State;

namespace Berth.Runtime.Tests;

/// <summary>state.json is written and read by hand, in the serializer's shape: files either wrote read in both.</summary>
public class ContainerStateJsonTests
{
    static ContainerState Full() => new()
    {
        Id = "c1", InitPid = 42, InitStartTime = 123456789012, Ready = false, Bundle = "/b \"q\"", Rootfs = "/b/rootfs+ä<>",
        Created = new DateTimeOffset(2026, 12, 6, 4, 50, 1, TimeSpan.FromHours(2)).AddTicks(1234567), Owner = "",
        CgroupPaths = new() { ["memory"] = "/sys/fs/cgroup/memory/c1", ["pids"] = "/sys/fs/cgroup/pids/c1" },
        CreatedCgroups = ["/sys/fs/cgroup/memory/c1"],
        Annotations = new() { ["a"] = "b", ["org.x/y"] = "\u0001" },
        Hooks = new Hooks
        {
            Poststart = [new Hook { Path = "/bin/h", Args = ["h", "1"], Env = ["A=B"], Timeout = 5 }],
            Poststop = [new Hook { Path = "/bin/g" }],
        },
    };

    static string Serializer(ContainerState s) => JsonSerializer.Serialize(s, StateTestJsonContext.Default.ContainerState);

    [Fact]
    public void Writes_what_the_serializer_writes()
    {
        Assert.Equal(Serializer(Full()), Encoding.UTF8.GetString(ContainerStateJson.Write(Full())));
        var bare = new ContainerState { Id = "c2", Bundle = "/b", Rootfs = "/r" };
        Assert.Equal(Serializer(bare), Encoding.UTF8.GetString(ContainerStateJson.Write(bare)));
    }

    [Theory]
    [InlineData("plain /sys/fs/cgroup/x_1-2.3:4,5;6=7?8@9[]^{|}~ !#$%()*")]
    [InlineData("\\ ' & + < > ` \"")]
    [InlineData("\t\n\r\b\f\u0000\u001f\u007f")]
    [InlineData("caf\u00e9 \u20ac \ud83d\ude00")]
    [InlineData("")]
    public void Escapes_strings_as_the_serializer_does(string text)
    {
        var state = new ContainerState
        {
            Id = text, Bundle = text, Rootfs = "/r", Owner = text,
            CgroupPaths = new() { [text] = text }, CreatedCgroups = [text], Annotations = new() { [text] = text },
            Hooks = new Hooks { Prestart = [new Hook { Path = text, Args = [text], Env = [text], Timeout = -1 }] },
        };
        Assert.Equal(Serializer(state), Encoding.UTF8.GetString(ContainerStateJson.Write(state)));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(5_000_000, 0)]
    [InlineData(1, -330)]
    [InlineData(1_234_500, 840)]
    public void Writes_dates_as_the_serializer_does(long ticks, int offsetMinutes)
    {
        var state = new ContainerState
        {
            Id = "c", Bundle = "/b", Rootfs = "/r", Ready = true, InitPid = int.MaxValue, InitStartTime = ulong.MaxValue,
            Created = new DateTimeOffset(2026, 12, 6, 23, 59, 59, TimeSpan.FromMinutes(offsetMinutes)).AddTicks(ticks),
        };
        Assert.Equal(Serializer(state), Encoding.UTF8.GetString(ContainerStateJson.Write(state)));
    }

    [Fact]
    public void Reads_what_the_serializer_wrote()
    {
        var back = ContainerStateJson.Read(Encoding.UTF8.GetBytes(Serializer(Full())));
        Assert.Equal(Serializer(Full()), Serializer(back));
    }

    [Fact]
    public void Reads_older_files_and_skips_unknown_fields()
    {
        var back = ContainerStateJson.Read("""
            {"id":"c1","initPid":7,"bundle":"/b","rootfs":"/r","created":"2026-11-29T20:31:00.5+00:00","future":{"x":[1]},"hooks":null}
            """u8.ToArray());
        Assert.Null(back.Ready);
        Assert.Equal(7, back.InitPid);
        Assert.Empty(back.CgroupPaths);
        Assert.Equal(new DateTimeOffset(2026, 11, 29, 20, 31, 0, 500, TimeSpan.Zero), back.Created);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{\"id\":\"c1\",\"bundle\":\"/b\"}")]
    [InlineData("{\"id\":1,\"bundle\":\"/b\",\"rootfs\":\"/r\"}")]
    [InlineData("{\"id\":\"c1\",\"bundle\":\"/b\",\"rootfs\":\"/r\",\"initPid\":\"1\"}")]
    [InlineData("{\"id\":\"c1\",\"bundle\":\"/b\",\"rootfs\":\"/r\",\"hooks\":{\"poststop\":[{\"path\":1}]}}")]
    [InlineData("{\"id\":\"c1\",\"bundle\":\"/b\",\"rootfs\":\"/r\"")]
    [InlineData("{\"id\":\"c1\",\"bundle\":\"/b\",\"rootfs\":\"/r\"} x")]
    [InlineData("{\"id\":\"\\ud800\",\"bundle\":\"/b\",\"rootfs\":\"/r\"}")]
    [InlineData("{\"id\":\"c1\",\"bundle\":\"/b\",\"rootfs\":\"/r\",\"cgroupPaths\":{\"\\udc00\":\"x\"}}")]
    public void Refuses_what_is_not_a_state(string json)
    {
        Assert.ThrowsAny<JsonException>(() => ContainerStateJson.Read(Encoding.UTF8.GetBytes(json)));
    }
}

/// <summary>The serializer's state.json, the shape the hand-written one keeps.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class StateTestJsonContext : JsonSerializerContext;
