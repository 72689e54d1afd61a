using System.Text.Json.Nodes;
using Berth.Api;
using Berth.Oci;
using static Berth.Engine.Tests.TestEnvironment;

namespace Berth.Engine.Tests;

/// <summary>
/// One test per config.json dockerd 20.10 wrote on this machine (Resources/dockerd-specs, README.md there): the
/// create body the docker CLI sends for the same flags goes through Populate, and the spec must equal dockerd's
/// field for field, except where Berth differs on purpose. Each difference is asserted on both sides (what dockerd
/// wrote, what Berth writes instead) and explained here and in src/Berth.Engine/README.md:
/// <list type="bullet">
/// <item>hooks: dockerd adds a prestart hook (<c>/proc/&lt;dockerd&gt;/exe libnetwork-setkey</c>) to containers with
/// their own network namespace, for libnetwork's per-sandbox keys; Berth has no libnetwork and writes no hook.</item>
/// <item>ociVersion: dockerd 20.10 writes "1.0.2-dev"; Berth writes the runtime-spec version it implements.</item>
/// <item>cgroupsPath: under /berth instead of /docker, so that berthd and a dockerd on one host never share a parent.</item>
/// <item>--init: the binary is Debian's tini-static (docker-init on Debian is a link to it); /usr/bin/tini is
/// dynamically linked and would not start in a busybox or alpine image. It still appears as /sbin/docker-init.</item>
/// <item>--network host: dockerd joins a bind of its own network namespace (&lt;exec-root&gt;/netns/default); Berth
/// leaves the network namespace out, which is the same namespace with no bind to keep.</item>
/// </list>
/// </summary>
public class CapturedSpecTests
{
    [Fact] public void Default() => AssertLikeDockerd("default");

    [Fact] public void Capwrap_default_is_the_default_with_other_ids() => AssertLikeDockerd("capwrap-default");

    [Fact] public void User_by_name() => AssertLikeDockerd("user-app", (c, _) => c.User = "app");

    [Fact] public void User_and_group_by_number_with_group_add() =>
        AssertLikeDockerd("user-uidgid-groupadd", (c, h) => { c.User = "1000:1000"; h.GroupAdd = ["10"]; });

    [Fact] public void Working_dir() => AssertLikeDockerd("workdir", (c, _) => c.WorkingDir = "/tmp/work");

    // -e B with B unset in the CLI's environment arrives as a bare "B", which removes B: nothing to remove here.
    [Fact] public void Env() => AssertLikeDockerd("env", (c, _) => c.Env = ["A=1", "B"]);

    [Fact] public void Entrypoint_replaces_the_images_command() =>
        AssertLikeDockerd("entrypoint-echo", (c, _) => { c.Entrypoint = ["/bin/echo"]; c.Cmd = ["hello", "world"]; });

    [Fact] public void Hostname_and_domainname() =>
        AssertLikeDockerd("hostname-domainname", (c, _) => { c.Hostname = "h1"; c.Domainname = "d1"; });

    // The host's devices are an input (the daemon stats /dev); this fixture is the list dockerd found on this machine.
    [Fact] public void Privileged() =>
        AssertLikeDockerd("privileged", (_, h) => h.Privileged = true, devices: new FixedDevices(CapturedHostDevices()));

    [Fact] public void Cap_add_and_drop() =>
        AssertLikeDockerd("cap-add-drop", (_, h) => { h.CapAdd = ["CAP_NET_ADMIN"]; h.CapDrop = ["CAP_CHOWN"]; });

    [Fact] public void Cap_drop_all_drops_the_chroot_seccomp_rule() => AssertLikeDockerd("cap-drop-all", (_, h) => h.CapDrop = ["ALL"]);

    [Fact] public void Read_only_rootfs_with_tmpfs() =>
        AssertLikeDockerd("read-only-tmpfs", (_, h) => { h.ReadonlyRootfs = true; h.Tmpfs = new() { ["/run"] = "rw,size=1m" }; });

    [Fact] public void Memory_swap_and_reservation() =>
        AssertLikeDockerd("memory", (_, h) => { h.Memory = 67108864; h.MemorySwap = 134217728; h.MemoryReservation = 33554432; });

    [Fact] public void Cpus_shares_and_cpuset() =>
        AssertLikeDockerd("cpu", (_, h) => { h.NanoCpus = 500000000; h.CpuShares = 512; h.CpusetCpus = "0"; });

    [Fact] public void Pids_limit_and_ulimit() =>
        AssertLikeDockerd("pids-ulimit", (_, h) => { h.PidsLimit = 50; h.Ulimits = [new Ulimit { Name = "nofile", Soft = 1024, Hard = 2048 }]; });

    [Fact] public void No_new_privileges() => AssertLikeDockerd("no-new-privileges", (_, h) => h.SecurityOpt = ["no-new-privileges"]);

    [Fact] public void Seccomp_unconfined() => AssertLikeDockerd("seccomp-unconfined", (_, h) => h.SecurityOpt = ["seccomp=unconfined"]);

    [Fact] public void Init() => AssertLikeDockerd("init", (_, h) => h.Init = true, berthDiffers: spec =>
    {
        var init = spec["mounts"]!.AsArray().Single(m => (string?)m!["destination"] == "/sbin/docker-init")!;
        Assert.Equal("/usr/bin/docker-init", (string?)init["source"]);
        init["source"] = "/usr/bin/tini-static";
    });

    [Fact] public void Ipc_host() => AssertLikeDockerd("ipc-host", (_, h) => h.IpcMode = "host");

    [Fact] public void Ipc_shareable() => AssertLikeDockerd("ipc-shareable", (_, h) => h.IpcMode = "shareable");

    [Fact] public void Ipc_of_a_shareable_container() =>
        AssertLikeDockerd("ipc-container", (_, h) => h.IpcMode = "container:cs-ipc-shareable");

    [Fact] public void Pid_host() => AssertLikeDockerd("pid-host", (_, h) => h.PidMode = "host");

    [Fact] public void Pid_of_another_container() => AssertLikeDockerd("pid-container", (_, h) => h.PidMode = "container:cs-default");

    [Fact] public void Uts_host() => AssertLikeDockerd("uts-host", (_, h) => h.UTSMode = "host");

    [Fact] public void Network_host() => AssertLikeDockerd("network-host", (_, h) => h.NetworkMode = "host", berthDiffers: spec =>
    {
        var namespaces = spec["linux"]!["namespaces"]!.AsArray();
        var network = namespaces.Single(n => (string?)n!["type"] == "network")!;
        Assert.Equal("<exec-root>/netns/default", (string?)network["path"]);
        namespaces.Remove(network);
    });

    [Fact] public void Network_of_another_container() =>
        AssertLikeDockerd("network-container", (_, h) => h.NetworkMode = "container:cs-default");

    [Fact] public void Device() =>
        AssertLikeDockerd("device", (_, h) => h.Devices = [new DeviceMapping { PathOnHost = "/dev/null", PathInContainer = "/dev/xnull", CgroupPermissions = "rwm" }]);

    [Fact] public void Sysctl() => AssertLikeDockerd("sysctl", (_, h) => h.Sysctls = new() { ["net.ipv4.ip_forward"] = "1" });

    [Fact] public void Shm_size() => AssertLikeDockerd("shm-size", (_, h) => h.ShmSize = 1048576);

    [Fact] public void Oom_score_adj() => AssertLikeDockerd("oom-score-adj", (_, h) => h.OomScoreAdj = 100);

    // -d -t -i: no attach, stdin kept open.
    [Fact] public void Tty() => AssertLikeDockerd("tty", (c, _) => { c.Tty = true; c.OpenStdin = true; });

    [Fact] public void Restart_policy_leaves_the_spec_alone() =>
        AssertLikeDockerd("restart", (_, h) => h.RestartPolicy = new RestartPolicy { Name = "on-failure", MaximumRetryCount = 3 });

    [Fact] public void Log_options_leave_the_spec_alone() =>
        AssertLikeDockerd("log-opt", (_, h) => h.LogConfig.Config = new() { ["max-size"] = "1m" });

    [Fact] public void Labels_leave_the_spec_alone() => AssertLikeDockerd("labels", (c, _) => c.Labels = new() { ["a"] = "b" });

    /// <summary>Our OCI types carry every field of every capture: the comparison cannot pass by losing one.</summary>
    [Fact]
    public void Every_captured_field_survives_Berths_spec_types()
    {
        var files = Directory.GetFiles(Resource("dockerd-specs"), "*.json").Concat(Directory.GetFiles(Resource("dockerd-extra"), "*.json")).ToList();
        Assert.Equal(34 + 28, files.Count);
        foreach (var file in files)
        {
            var json = File.ReadAllText(file);
            var raw = SpecComparison.Flatten(JsonNode.Parse(json));
            var kept = SpecComparison.Flatten(SpecComparison.Canonical(json));
            var lost = raw.Where(kv => !kept.TryGetValue(kv.Key, out var v) || v != kv.Value).Select(kv => kv.Key).ToList();
            Assert.True(lost.Count == 0, $"{Path.GetFileName(file)}: lost {string.Join(", ", lost.Take(10))}");
        }
    }

    internal static void AssertLikeDockerd(string variant, Action<ContainerCreateRequest, HostConfig>? flags = null,
        Action<JsonObject>? berthDiffers = null, IHostDevices? devices = null, string directory = "dockerd-specs")
    {
        var capturedJson = File.ReadAllText(Resource(directory, variant + ".json"));
        var captured = JsonNode.Parse(capturedJson)!.AsObject();
        // The container's id and rootfs are dockerd's choices, inputs to Populate: take them from the capture.
        var id = ((string)captured["linux"]!["cgroupsPath"]!).Split('/')[^1];
        var rootfs = (string)captured["root"]!["path"]!;
        var request = CliRequest(flags);
        var record = new ContainerRecord(id, "cs-" + variant, request, request.HostConfig!, rootfs);

        var command = Populate.Command(record, BusyboxImage, BusyboxUsers, Create(devices));

        var expected = SpecComparison.Canonical(capturedJson);
        BerthDiffersAlways(expected, captured);
        berthDiffers?.Invoke(expected);
        SpecComparison.AssertSame(expected, SpecComparison.Canonical(command.Spec), variant);
    }

    /// <summary>The differences every spec has (see the class comment), checked on dockerd's side, then turned into Berth's.</summary>
    static void BerthDiffersAlways(JsonObject expected, JsonObject captured)
    {
        var ownNetwork = captured["linux"]!["namespaces"]!.AsArray().Any(n => (string?)n!["type"] == "network" && n["path"] is null);
        var hooks = captured["hooks"]!.AsObject();
        if (ownNetwork)
        {
            var hook = Assert.Single(hooks["prestart"]!.AsArray())!;
            Assert.Matches(@"^/proc/\d+/exe$", (string?)hook["path"]);
            Assert.Equal("libnetwork-setkey", (string?)hook["args"]![0]);
        }
        else Assert.Empty(hooks);
        expected.Remove("hooks");

        Assert.Equal("1.0.2-dev", (string?)expected["ociVersion"]);
        expected["ociVersion"] = SpecVersion.Current;

        var cgroupsPath = (string)expected["linux"]!["cgroupsPath"]!;
        if (cgroupsPath.StartsWith("/docker/", StringComparison.Ordinal))
            expected["linux"]!["cgroupsPath"] = "/berth/" + cgroupsPath["/docker/".Length..];
    }

    /// <summary>The host devices dockerd listed for --privileged on this machine.</summary>
    internal static List<HostDevice> CapturedHostDevices()
    {
        var spec = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(Resource("dockerd-specs", "privileged.json")), OciJsonContext.Default.Spec)!;
        return [.. spec.Linux!.Devices!.Select(d => new HostDevice(d.Path, d.Type[0], d.Major, d.Minor, d.FileMode!.Value, d.Uid!.Value, d.Gid!.Value))];
    }
}
