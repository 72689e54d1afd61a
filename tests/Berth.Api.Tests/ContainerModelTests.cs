using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;
using Berth.Tests.Shared;

namespace Berth.Api.Tests;

/// <summary>
/// The container models read what the docker 28 CLI sends to POST /containers/create and what dockerd 20.10 answers
/// to GET /containers/{id}/json (or keeps in its own record), and write the same fields back, value for value.
/// </summary>
public class ContainerModelTests
{
    static string Resource(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", name));

    static void AssertSameJson(string captured, string ours, string what) =>
        JsonLeaves.AssertSame(JsonNode.Parse(captured), JsonNode.Parse(ours), what);

    [Fact]
    public void Create_body_of_run_rm_reads_with_its_networking_config()
    {
        var request = JsonSerializer.Deserialize(Resource("cli-create-rm.json"), ApiJson.Context.ContainerCreateRequest)!;
        Assert.Equal(["echo", "hi"], request.Cmd);
        Assert.Equal("busybox", request.Image);
        Assert.Null(request.Entrypoint);
        Assert.Empty(request.Volumes!);
        var host = request.HostConfig!;
        Assert.Equal("default", host.NetworkMode);
        Assert.True(host.AutoRemove);
        Assert.Equal([0u, 0u], host.ConsoleSize!);
        Assert.Equal(-1, host.MemorySwappiness);
        Assert.Equal(0, host.PidsLimit);
        Assert.Equal("no", host.RestartPolicy.Name);
        Assert.Null(host.Init);
        var endpoint = request.NetworkingConfig!.EndpointsConfig!["default"]!;
        Assert.Equal(0, endpoint.GwPriority);
        Assert.Null(endpoint.IPAMConfig);
    }

    [Fact]
    public void Create_body_with_many_flags_reads_every_flag()
    {
        var request = JsonSerializer.Deserialize(Resource("cli-create-many-flags.json"), ApiJson.Context.ContainerCreateRequest)!;
        Assert.Equal(("h1", "d1", "app", "/tmp/work"), (request.Hostname, request.Domainname, request.User, request.WorkingDir));
        Assert.Equal(["A=1", "B"], request.Env);
        Assert.True(request.Tty && request.OpenStdin && request.StdinOnce);
        Assert.Equal("b", request.Labels!["a"]);
        var host = request.HostConfig!;
        Assert.Equal(["CAP_NET_ADMIN"], host.CapAdd);
        Assert.Equal(["ALL", "CAP_CHOWN"], host.CapDrop);
        Assert.Equal(["10"], host.GroupAdd);
        Assert.Equal("shareable", host.IpcMode);
        Assert.Equal(["seccomp=unconfined", "no-new-privileges"], host.SecurityOpt);
        Assert.Equal("rw,size=1m", host.Tmpfs!["/run"]);
        Assert.Equal("1", host.Sysctls!["net.ipv4.ip_forward"]);
        Assert.Equal((67108864L, 134217728L, 33554432L, 500000000L), (host.Memory, host.MemorySwap, host.MemoryReservation, host.NanoCpus));
        Assert.Equal(1048576, host.ShmSize);
        Assert.Equal(50, host.PidsLimit);
        Assert.Equal(("nofile", 1024L, 2048L), (host.Ulimits![0].Name, host.Ulimits[0].Soft, host.Ulimits[0].Hard));
        Assert.Equal(("/dev/null", "/dev/xnull", "rwm"), (host.Devices![0].PathOnHost, host.Devices[0].PathInContainer, host.Devices[0].CgroupPermissions));
        Assert.Equal(("on-failure", 3), (host.RestartPolicy.Name, host.RestartPolicy.MaximumRetryCount));
        Assert.Equal("1m", host.LogConfig.Config!["max-size"]);
        Assert.True(host.Init);
        Assert.True(host.ReadonlyRootfs);
        Assert.Empty(request.NetworkingConfig!.EndpointsConfig!);
    }

    [Fact]
    public void Create_body_with_fields_newer_clients_send_still_reads()
    {
        var body = JsonNode.Parse(Resource("cli-create-rm.json"))!.AsObject();
        body["SomeFutureField"] = new JsonObject { ["Nested"] = new JsonArray(1, 2) };
        body["HostConfig"]!["AnotherFutureField"] = "x";
        body["NetworkingConfig"]!["EndpointsConfig"]!["default"]!["FutureEndpointField"] = true;
        var request = JsonSerializer.Deserialize(body.ToJsonString(), ApiJson.Context.ContainerCreateRequest)!;
        Assert.Equal(["echo", "hi"], request.Cmd);
        Assert.Equal("default", request.HostConfig!.NetworkMode);
    }

    [Theory]
    [InlineData("dockerd-container-inspect.json")]
    [InlineData("dockerd-container-inspect-init.json")]
    public void Inspect_round_trips_value_for_value(string file)
    {
        var json = Resource(file);
        var inspect = JsonSerializer.Deserialize(json, ApiJson.Context.ContainerInspect)!;
        Assert.Equal("running", inspect.State.Status);
        Assert.True(inspect.State.Running);
        Assert.Equal(ContainerState.NeverTime, inspect.State.FinishedAt);
        Assert.Null(inspect.State.Health);
        Assert.Equal("sleep", inspect.Path);
        Assert.Equal(["600"], inspect.Args);
        Assert.Equal("none", inspect.HostConfig.NetworkMode);
        Assert.Equal(67108864, inspect.HostConfig.ShmSize);
        Assert.Equal(file.Contains("init") ? true : null, inspect.HostConfig.Init);
        Assert.Equal(["sleep", "600"], inspect.Config.Cmd);
        Assert.Contains("none", inspect.NetworkSettings.Networks.Keys);
        AssertSameJson(json, JsonSerializer.Serialize(inspect, ApiJson.Context.ContainerInspect), file);
    }

    [Fact]
    public void Dockerds_own_host_config_record_round_trips()
    {
        var json = Resource("dockerd-record-hostconfig.json");
        var host = JsonSerializer.Deserialize(json, ApiJson.Context.HostConfig)!;
        Assert.Equal("private", host.IpcMode);
        Assert.Equal("host", host.CgroupnsMode);
        Assert.Equal("json-file", host.LogConfig.Type);
        Assert.Equal(10, host.MaskedPaths!.Count);
        AssertSameJson(json, JsonSerializer.Serialize(host, ApiJson.Context.HostConfig), "hostconfig.json");
    }

    [Fact]
    public void Dockerds_own_container_record_has_the_same_config_and_state()
    {
        var record = JsonNode.Parse(Resource("dockerd-record-config.v2.json"))!;
        var configJson = record["Config"]!.ToJsonString();
        var config = JsonSerializer.Deserialize(configJson, ApiJson.Context.ContainerConfig)!;
        Assert.Equal("30bb22e1da16", config.Hostname);
        AssertSameJson(configJson, JsonSerializer.Serialize(config, ApiJson.Context.ContainerConfig), "config.v2.json Config");

        // The record's State has dockerd's private fields (RemovalInProgress) and "Health": null; inspect's shape has neither.
        var state = JsonSerializer.Deserialize(record["State"]!.ToJsonString(), ApiJson.Context.ContainerState)!;
        Assert.Equal(29286, state.Pid);
        Assert.True(state.Running);
        var settings = JsonSerializer.Deserialize(record["NetworkSettings"]!.ToJsonString(), ApiJson.Context.NetworkSettings)!;
        Assert.Equal("<exec-root>/netns/9cc071e75b70", settings.SandboxKey);
        Assert.Equal("aa4aaf5d8bd02cba86647760319926bab1b8031f040317ea7d2ccfd4bcb292f4", settings.Networks["none"].NetworkID);
    }

    [Fact]
    public void Optional_fields_are_left_out_as_dockerd_leaves_them_out()
    {
        var json = JsonNode.Parse(JsonSerializer.Serialize(new ContainerInspect(), ApiJson.Context.ContainerInspect))!;
        Assert.Null(json["State"]!["Health"]);
        Assert.False(json["State"]!.AsObject().ContainsKey("Health"));
        Assert.False(json.AsObject().ContainsKey("SizeRw"));
        foreach (var key in new[] { "Init", "Tmpfs", "Sysctls", "Mounts", "StorageOpt", "Annotations" })
            Assert.False(json["HostConfig"]!.AsObject().ContainsKey(key), key);
        foreach (var key in new[] { "ExposedPorts", "Healthcheck", "StopSignal", "StopTimeout", "Shell", "MacAddress" })
            Assert.False(json["Config"]!.AsObject().ContainsKey(key), key);
        Assert.Equal("""{"Id":"abc","Warnings":[]}""", JsonSerializer.Serialize(new ContainerCreateResponse { Id = "abc" }, ApiJson.Context.ContainerCreateResponse));
    }
}
