using Berth.Api;
using static Berth.Engine.Tests.TestEnvironment;

namespace Berth.Engine.Tests;

/// <summary>
/// Every field Berth cannot honour yet, and every value dockerd refuses, is refused with a sentence that names it
/// (dockerd's sentence where dockerd has one, as seen from dockerd 20.10 on this machine), never ignored.
/// </summary>
public class ValidatorTests
{
    static ContainerConfigException Refused(Action<ContainerCreateRequest, HostConfig> flags)
    {
        var request = CliRequest(flags);
        return Assert.Throws<ContainerConfigException>(() =>
            ContainerValidator.Validate(request, BusyboxImage, request.HostConfig, request.NetworkingConfig, Create()));
    }

    static void AssertRefused(string message, Action<ContainerCreateRequest, HostConfig> flags, int status = 400)
    {
        var e = Refused(flags);
        Assert.Equal(message, e.Message);
        Assert.Equal(status, e.StatusCode);
    }

    public static TheoryData<string, Action<ContainerCreateRequest, HostConfig>> DockerdsSentences => new()
    {
        { "invalid CapAdd: unknown capability: \"CAP_FOO\"", (_, h) => h.CapAdd = ["FOO"] },
        { "invalid CapDrop: unknown capability: \"CAP_BAR\"", (_, h) => h.CapDrop = ["bar"] },
        { "Minimum memory limit allowed is 6MB", (_, h) => h.Memory = 1 << 20 },
        { "Minimum memory reservation allowed is 6MB", (_, h) => h.MemoryReservation = 1 << 20 },
        { "Minimum memoryswap limit should be larger than memory limit, see usage", (_, h) => { h.Memory = 64 << 20; h.MemorySwap = 32 << 20; } },
        { "You should always set the Memory limit when using Memoryswap limit, see usage", (_, h) => h.MemorySwap = 64 << 20 },
        { "Minimum memory limit can not be less than memory reservation limit, see usage", (_, h) => { h.Memory = 32 << 20; h.MemoryReservation = 64 << 20; } },
        { "Invalid value: 101, valid memory swappiness range is 0-100", (_, h) => h.MemorySwappiness = 101 },
        { "Conflicting options: Nano CPUs and CPU Quota cannot both be set", (_, h) => { h.NanoCpus = 500000000; h.CpuQuota = 20000; } },
        { "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available", (_, h) => h.NanoCpus = 50_000_000_000 },
        { "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", (_, h) => h.CpuPeriod = 500 },
        { "CPU cfs quota can not be less than 1ms (i.e. 1000)", (_, h) => h.CpuQuota = 500 },
        { "Requested CPUs are not available - requested 7, available: 0-1", (_, h) => h.CpusetCpus = "7" },
        { "Invalid value a-b for cpuset cpus: invalid format: a-b", (_, h) => h.CpusetCpus = "a-b" },
        { "invalid restart policy 'bogus'", (_, h) => h.RestartPolicy.Name = "bogus" },
        { "maximum retry count cannot be negative", (_, h) => h.RestartPolicy = new RestartPolicy { Name = "on-failure", MaximumRetryCount = -1 } },
        { "maximum retry count cannot be used with restart policy 'always'", (_, h) => h.RestartPolicy = new RestartPolicy { Name = "always", MaximumRetryCount = 3 } },
        { "can't create 'AutoRemove' container with restart policy", (_, h) => { h.AutoRemove = true; h.RestartPolicy.Name = "always"; } },
        { "Invalid value 1001, range for oom score adj is [-1000, 1000]", (_, h) => h.OomScoreAdj = 1001 },
        { "SHM size can not be less than 0", (_, h) => h.ShmSize = -1 },
        { "Invalid signal: SIGBOGUS", (c, _) => c.StopSignal = "SIGBOGUS" },
        { "invalid cgroup namespace mode: bogus", (_, h) => h.CgroupnsMode = "bogus" },
        { "the working directory 'rel' is invalid, it needs to be an absolute path", (c, _) => c.WorkingDir = "rel" },
        { "conflicting options: hostname and the UTS mode", (c, h) => { h.UTSMode = "host"; c.Hostname = "x"; } },
        { "conflicting options: hostname and the network mode", (c, h) => { h.NetworkMode = "container:cs-default"; c.Hostname = "x"; } },
        { "No command specified", (c, _) => { c.Entrypoint = [""]; c.Cmd = null; } },
        { "invalid environment variable: =foo", (c, _) => c.Env = ["=foo"] },
    };

    [Theory]
    [MemberData(nameof(DockerdsSentences))]
    public void Refuses_what_dockerd_refuses_with_its_sentence(string message, Action<ContainerCreateRequest, HostConfig> flags) =>
        AssertRefused(message, flags);

    public static TheoryData<string, Action<ContainerCreateRequest, HostConfig>> NotYetHonoured => new()
    {
        { "HostConfig.VolumesFrom", (_, h) => h.VolumesFrom = ["other"] },
        { "HostConfig.PortBindings", (_, h) => h.PortBindings = new() { ["80/tcp"] = [new PortBinding { HostPort = "8080" }] } },
        { "HostConfig.PublishAllPorts", (_, h) => h.PublishAllPorts = true },
        { "HostConfig.Links", (_, h) => h.Links = ["a:b"] },
        { "HostConfig.Dns", (_, h) => h.Dns = ["1.1.1.1"] },
        { "HostConfig.ExtraHosts", (_, h) => h.ExtraHosts = ["a:1.2.3.4"] },
        { "HostConfig.LogConfig.Type \"syslog\"", (_, h) => h.LogConfig.Type = "syslog" },
        { "HostConfig.UsernsMode \"private\"", (_, h) => h.UsernsMode = "private" },
        { "HostConfig.DeviceRequests", (_, h) => h.DeviceRequests = [new DeviceRequest { Driver = "nvidia", Count = -1 }] },
        { "HostConfig.BlkioWeight", (_, h) => h.BlkioWeight = 300 },
        { "HostConfig.BlkioDevice{Read,Write}{Bps,IOps}", (_, h) => h.BlkioDeviceReadBps = [new ThrottleDevice { Path = "/dev/vda", Rate = 1 }] },
        { "HostConfig.KernelMemory", (_, h) => h.KernelMemory = 64 << 20 },
        { "HostConfig.CpuRealtimePeriod/CpuRealtimeRuntime", (_, h) => h.CpuRealtimeRuntime = 950000 },
        { "HostConfig.Cgroup", (_, h) => h.Cgroup = "container:x" },
        { "HostConfig.StorageOpt", (_, h) => h.StorageOpt = new() { ["size"] = "1G" } },
        { "Config.MacAddress", (c, _) => c.MacAddress = "02:42:ac:11:00:02" },
        { "SecurityOpt \"apparmor=docker-default\"", (_, h) => h.SecurityOpt = ["apparmor=docker-default"] },
        { "SecurityOpt \"label=type:spc_t\"", (_, h) => h.SecurityOpt = ["label=type:spc_t"] },
        { "NetworkingConfig.EndpointsConfig[\"none\"].Aliases", (_, h) => { } },
    };

    [Fact]
    public void A_user_network_takes_aliases_and_an_address_and_refuses_the_rest()
    {
        ContainerConfigException? Validate(string network, EndpointSettings endpoint)
        {
            var request = CliRequest((_, h) => h.NetworkMode = "tn1");
            request.NetworkingConfig = new NetworkingConfig { EndpointsConfig = new() { [network] = endpoint } };
            return Record.Exception(() => ContainerValidator.Validate(request, BusyboxImage, request.HostConfig, request.NetworkingConfig, Create())) as ContainerConfigException;
        }
        Assert.Null(Validate("tn1", new EndpointSettings { Aliases = ["web"], IPAMConfig = new EndpointIpamConfig { IPv4Address = "198.18.1.50" } }));
        Assert.StartsWith("NetworkingConfig.EndpointsConfig[\"tn1\"].MacAddress is not supported yet: Berth's networks take aliases and an IPv4 address only",
            Validate("tn1", new EndpointSettings { MacAddress = "02:42:c6:12:01:32" })?.Message);
        Assert.StartsWith("NetworkingConfig.EndpointsConfig[\"tn1\"].IPAMConfig is not supported yet",
            Validate("tn1", new EndpointSettings { IPAMConfig = new EndpointIpamConfig { IPv6Address = "fd00::5" } })?.Message);
        Assert.StartsWith("NetworkingConfig.EndpointsConfig[\"tn2\"] is not supported yet: connecting to a network other than HostConfig.NetworkMode's",
            Validate("tn2", new EndpointSettings())?.Message);
    }

    [Theory]
    [MemberData(nameof(NotYetHonoured))]
    public void Refuses_what_Berth_cannot_honour_yet_naming_the_field(string field, Action<ContainerCreateRequest, HostConfig> flags)
    {
        var request = CliRequest(flags);
        if (field.StartsWith("NetworkingConfig", StringComparison.Ordinal))
            request.NetworkingConfig = new NetworkingConfig { EndpointsConfig = new() { ["none"] = new EndpointSettings { Aliases = ["web"] } } };
        var e = Assert.Throws<ContainerConfigException>(() =>
            ContainerValidator.Validate(request, BusyboxImage, request.HostConfig, request.NetworkingConfig, Create()));
        Assert.StartsWith(field + " is not supported yet: ", e.Message);
        Assert.Equal(400, e.StatusCode);
    }

    [Theory]
    [InlineData("invalid mount path: 'x' mount path must be absolute (HostConfig.Tmpfs)", "x", "")]
    [InlineData("invalid specification: destination can't be '/' (HostConfig.Tmpfs)", "/", "")]
    [InlineData("invalid tmpfs option \"foo=1\" for /x", "/x", "size=1m,foo=1")]
    [InlineData("invalid tmpfs option \"bogus\" for /x", "/x", "bogus")]
    public void Refuses_bad_tmpfs(string message, string destination, string options) =>
        AssertRefused(message, (_, h) => h.Tmpfs = new() { [destination] = options });

    [Theory]
    [InlineData("sysctl \"kernel.hostname\" is not allowed: set Config.Hostname instead", "none", "", "kernel.hostname")]
    [InlineData("sysctl \"vm.swappiness\" is not allowed: no namespace of the container scopes it (HostConfig.Sysctls)", "none", "", "vm.swappiness")]
    [InlineData("sysctl \"net.ipv4.ip_forward\" is not allowed in the host's network namespace (HostConfig.Sysctls with NetworkMode host)", "host", "", "net.ipv4.ip_forward")]
    [InlineData("sysctl \"kernel.shmmax\" is not allowed in the host's IPC namespace (HostConfig.Sysctls with IpcMode host)", "none", "host", "kernel.shmmax")]
    public void Refuses_sysctls_no_namespace_of_the_container_scopes(string message, string network, string ipc, string key) =>
        AssertRefused(message, (_, h) => { h.NetworkMode = network; h.IpcMode = ipc; h.Sysctls = new() { [key] = "1" }; });

    [Theory]
    [InlineData("invalid ulimit type: bogus (HostConfig.Ulimits)", "bogus", 1, 1)]
    [InlineData("ulimit soft limit must be less than or equal to hard limit: 200 > 100 (nofile)", "nofile", 200, 100)]
    public void Refuses_bad_ulimits(string message, string name, long soft, long hard) =>
        AssertRefused(message, (_, h) => h.Ulimits = [new Ulimit { Name = name, Soft = soft, Hard = hard }]);

    [Fact]
    public void Refuses_unknown_security_options_and_bad_seccomp_profiles()
    {
        Assert.StartsWith("invalid --security-opt \"foo=bar\" (HostConfig.SecurityOpt)", Refused((_, h) => h.SecurityOpt = ["foo=bar"]).Message);
        Assert.StartsWith("Decoding seccomp profile failed: ", Refused((_, h) => h.SecurityOpt = ["seccomp={bad"]).Message);
        Assert.Equal("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
            Refused((_, h) => h.SecurityOpt = ["""seccomp={"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"""]).Message);
    }

    [Fact]
    public void Refuses_bad_devices_and_device_rules()
    {
        AssertRefused("invalid device cgroup permissions \"rwz\" for /dev/null (HostConfig.Devices): use r, w and m",
            (_, h) => h.Devices = [new DeviceMapping { PathOnHost = "/dev/null", PathInContainer = "/dev/x", CgroupPermissions = "rwz" }]);
        AssertRefused("invalid device path in container \"rel\" (HostConfig.Devices): it must be absolute",
            (_, h) => h.Devices = [new DeviceMapping { PathOnHost = "/dev/null", PathInContainer = "rel", CgroupPermissions = "rwm" }]);
        AssertRefused("invalid device cgroup format 'c 1:3' (HostConfig.DeviceCgroupRules)", (_, h) => h.DeviceCgroupRules = ["c 1:3"]);
    }

    [Fact]
    public void A_container_mode_naming_no_container_is_404()
    {
        AssertRefused("No such container: nope", (_, h) => h.IpcMode = "container:nope", 404);
        AssertRefused("No such container: nope", (_, h) => h.PidMode = "container:nope", 404);
        AssertRefused("No such container: nope", (_, h) => h.NetworkMode = "container:nope", 404);
    }

    [Fact]
    public void A_stopped_container_can_be_named_at_create_but_not_joined_at_start()
    {
        // compose creates every container before it starts them in order: existence is checked at create, running at start.
        var request = CliRequest((_, h) => h.NetworkMode = "container:cs-stopped");
        ContainerValidator.Validate(request, BusyboxImage, request.HostConfig, null, Create());
        var record = new ContainerRecord(new string('a', 64), "late", request, request.HostConfig!, "/rootfs");
        var e = Assert.Throws<ContainerConfigException>(() => Populate.Command(record, BusyboxImage, BusyboxUsers, Create()));
        Assert.Equal("cannot join network of a non running container: 999a6a440fa1196ff0d76b50397985ddffca04fd74a682016117ce04ded3250a", e.Message);

        record = record with { HostConfig = CliRequest((_, h) => h.PidMode = "container:cs-stopped").HostConfig! };
        Assert.Equal("container 999a6a440fa1196ff0d76b50397985ddffca04fd74a682016117ce04ded3250a is not running",
            Assert.Throws<ContainerConfigException>(() => Populate.Command(record, BusyboxImage, BusyboxUsers, Create())).Message);

        record = record with { HostConfig = CliRequest((_, h) => h.IpcMode = "container:cs-default").HostConfig! };
        Assert.Equal("can't join IPC of container 30bb22e1da16ee9f31ecd087b84618561b1ae3760e007deb29663a4781e54967: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
            Assert.Throws<ContainerConfigException>(() => Populate.Command(record, BusyboxImage, BusyboxUsers, Create())).Message);
    }

    [Fact]
    public void A_missing_device_is_refused_at_start()
    {
        var request = CliRequest((_, h) => h.Devices = [new DeviceMapping { PathOnHost = "/dev/nosuch", CgroupPermissions = "rwm" }]);
        var record = new ContainerRecord(new string('b', 64), "dev", request, request.HostConfig!, "/rootfs");
        Assert.Equal("error gathering device information while adding custom device \"/dev/nosuch\": no such file or directory",
            Assert.Throws<ContainerConfigException>(() => Populate.Command(record, BusyboxImage, BusyboxUsers, Create())).Message);
    }

    [Fact]
    public void Anonymous_volumes_and_the_images_volumes_pass_without_a_warning_and_its_healthcheck_is_run_without_one()
    {
        var image = BusyboxImage;
        image.Volumes = new() { ["/var/lib/data"] = new EmptyObject() };
        image.Healthcheck = new HealthConfig { Test = ["CMD-SHELL", "true"] };
        var request = CliRequest((c, h) =>
        {
            c.Volumes = new() { ["/data"] = new EmptyObject() };
            h.Binds = ["/b"];
            h.Mounts = [new MountSpec { Type = "volume", Target = "/m" }];
        });
        var validated = ContainerValidator.Validate(request, image, request.HostConfig, null, Create());
        Assert.Empty(validated.Warnings);
        Assert.Equal(["/data", "/var/lib/data"], validated.Config.Volumes!.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("data", "invalid volume specification: 'data': invalid mount path: 'data' mount path must be absolute")]
    [InlineData("/", "invalid volume specification: '/': invalid specification: destination can't be '/'")]
    public void A_config_volume_that_is_no_destination_is_refused(string volume, string message) =>
        AssertRefused(message, (c, _) => c.Volumes = new() { [volume] = new EmptyObject() });

    [Theory]
    [InlineData(999_999L, 0L, 0, 0L, "Interval in Healthcheck cannot be less than 1ms")]
    [InlineData(0L, 500L, 0, 0L, "Timeout in Healthcheck cannot be less than 1ms")]
    [InlineData(0L, 0L, -1, 0L, "Retries in Healthcheck cannot be negative")]
    [InlineData(0L, 0L, 0, 1L, "StartPeriod in Healthcheck cannot be less than 1ms")]
    public void A_healthcheck_is_checked_as_dockerd_checks_it(long interval, long timeout, int retries, long startPeriod, string message)
    {
        var request = CliRequest((c, _) => c.Healthcheck = new HealthConfig
        {
            Test = ["CMD", "true"], Interval = interval, Timeout = timeout, Retries = retries, StartPeriod = startPeriod,
        });
        var e = Assert.Throws<ContainerConfigException>(() => ContainerValidator.Validate(request, BusyboxImage, request.HostConfig, null, Create()));
        Assert.Equal(message, e.Message);
        Assert.Equal(400, e.StatusCode);
    }

    [Fact]
    public void A_requests_healthcheck_takes_what_it_leaves_unset_from_the_images()
    {
        var image = BusyboxImage;
        image.Healthcheck = new HealthConfig { Test = ["CMD-SHELL", "check"], Interval = 5_000_000_000, Timeout = 2_000_000_000, Retries = 4 };
        var merged = ConfigMerge.Merge(new ContainerConfig { Image = "x", Healthcheck = new HealthConfig { Interval = 1_000_000_000 } }, image);
        Assert.Equal(["CMD-SHELL", "check"], merged.Healthcheck!.Test);
        Assert.Equal(1_000_000_000, merged.Healthcheck.Interval);
        Assert.Equal(2_000_000_000, merged.Healthcheck.Timeout);
        Assert.Equal(4, merged.Healthcheck.Retries);
        Assert.Equal(["NONE"], ConfigMerge.Merge(new ContainerConfig { Image = "x", Healthcheck = new HealthConfig { Test = ["NONE"] } }, image).Healthcheck!.Test);
    }

    [Fact]
    public void The_no_op_security_options_of_a_host_without_LSMs_and_the_short_capability_forms_are_accepted()
    {
        var request = CliRequest((_, h) =>
        {
            h.SecurityOpt = ["apparmor=unconfined", "label=disable", "no-new-privileges=false", "seccomp:unconfined"];
            h.CapAdd = ["net_admin", "SYS_PTRACE", "CAP_BPF"];
        });
        ContainerValidator.Validate(request, BusyboxImage, request.HostConfig, null, Create());
    }
}
