namespace Berth.Oci.Tests;

public class SpecValidatorTests
{
    private static IReadOnlyList<ValidationError> Errors(Action<Spec> breakIt, bool rootless = false)
    {
        var spec = rootless ? TestSpecs.ValidRootless() : TestSpecs.Valid();
        breakIt(spec);
        return SpecValidator.Validate(spec);
    }

    private static ValidationError Single(Action<Spec> breakIt, bool rootless = false) =>
        Assert.Single(Errors(breakIt, rootless));

    [Fact]
    public void DefaultSpecsAreValid()
    {
        Assert.Empty(SpecValidator.Validate(TestSpecs.Valid()));
        Assert.Empty(SpecValidator.Validate(TestSpecs.ValidRootless()));
        Assert.Empty(SpecValidator.Validate(DefaultSpec.Create(rootless: false, cgroupNamespace: true)));
    }

    [Fact]
    public void OciVersionIsRequired() =>
        Assert.Equal("$.ociVersion", Single(s => s.OciVersion = null).Path);

    [Fact]
    public void RootAndRootPathAreRequired()
    {
        Assert.Equal("$.root", Single(s => s.Root = null).Path);
        Assert.Equal("$.root.path", Single(s => s.Root!.Path = "").Path);
    }

    [Fact]
    public void ProcessIsRequired() => Assert.Equal("$.process", Single(s => s.Process = null).Path);

    [Fact]
    public void ArgsMustNotBeEmpty()
    {
        Assert.Equal("$.process.args", Single(s => s.Process!.Args = []).Path);
        Assert.Equal("$.process.args", Single(s => s.Process!.Args = null).Path);
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("home/user", "must be an absolute path")]
    public void CwdMustBeAbsolute(string cwd, string message)
    {
        var e = Single(s => s.Process!.Cwd = cwd);
        Assert.Equal("$.process.cwd", e.Path);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MountNeedsDestination() =>
        Assert.Equal("$.mounts[2].destination", Single(s => s.Mounts![2].Destination = "").Path);

    [Fact]
    public void RelativeMountDestinationIsTolerated() =>
        Assert.Empty(Errors(s => s.Mounts![0].Destination = "proc"));

    [Fact]
    public void NulInMountFieldIsRefused() =>
        Assert.Equal("$.mounts[1]", Single(s => s.Mounts![1].Source = "tmp\0fs").Path);

    [Theory]
    [InlineData("idmap")]
    [InlineData("ridmap")]
    public void UnsupportedMountOptionsAreRefused(string option)
    {
        var e = Single(s => s.Mounts![1].Options!.Add(option));
        Assert.Equal("$.mounts[1].options[4]", e.Path);
        Assert.Contains($"\"{option}\" is not supported yet", e.Message);
    }

    [Fact]
    public void TmpCopyUpIsForTmpfsOnly()
    {
        var e = Single(s => s.Mounts![2].Options!.Add("tmpcopyup")); // devpts
        Assert.Equal("$.mounts[2].options[6]", e.Path);
        Assert.Contains("tmpfs mounts only", e.Message);
        Assert.Empty(Errors(s => s.Mounts![1].Options!.Add("tmpcopyup"))); // the /dev tmpfs
    }

    [Fact]
    public void IdMappedMountIsRefused() =>
        Assert.Equal("$.mounts[0].uidMappings", Single(s => s.Mounts![0].UidMappings = [new() { Size = 1 }]).Path);

    [Fact]
    public void BindMountNeedsSource()
    {
        Assert.Equal("$.mounts[7].source", Single(s => s.Mounts!.Add(new Mount { Destination = "/data", Type = "bind" })).Path);
        Assert.Equal("$.mounts[7].source", Single(s => s.Mounts!.Add(new Mount { Destination = "/data", Options = ["rbind"] })).Path);
        Assert.Empty(Errors(s => s.Mounts!.Add(new Mount { Destination = "/data", Source = "data", Options = ["rbind"] })));
    }

    [Fact]
    public void UnknownNamespaceTypeIsRefused()
    {
        var e = Single(s => s.Linux().Namespaces![2].Type = "net");
        Assert.Equal("$.linux.namespaces[2].type", e.Path);
        Assert.Contains("\"net\"", e.Message);
    }

    [Fact]
    public void AllSpecNamespaceTypesAreKnown()
    {
        var errors = Errors(s =>
        {
            s.Linux().Namespaces = [.. new[] { "pid", "network", "mount", "ipc", "uts", "cgroup", "time" }.Select(t => new LinuxNamespace { Type = t })];
        });
        Assert.Empty(errors);
    }

    [Fact]
    public void DuplicateNamespaceIsRefused() =>
        Assert.Equal("$.linux.namespaces[5].type", Single(s => s.Linux().Namespaces!.Add(new() { Type = "pid", Path = "/proc/1/ns/pid" })).Path);

    [Fact]
    public void NamespacePathMustBeAbsolute()
    {
        Assert.Equal("$.linux.namespaces[1].path", Single(s => s.Linux().Namespaces![1].Path = "proc/1/ns/net").Path);
        Assert.Empty(Errors(s => s.Linux().Namespaces![1].Path = "/proc/1/ns/net"));
    }

    [Fact]
    public void MappingsWithoutUserNamespaceAreRefused()
    {
        var errors = Errors(s =>
        {
            s.Linux().UidMappings = [new() { HostId = 1000, Size = 1 }];
            s.Linux().GidMappings = [new() { HostId = 1000, Size = 1 }];
        });
        Assert.Equal(["$.linux.uidMappings", "$.linux.gidMappings"], errors.Select(e => e.Path));
    }

    [Fact]
    public void NewUserNamespaceNeedsBothMappings()
    {
        Assert.Equal("$.linux.uidMappings", Single(s => s.Linux().UidMappings = null, rootless: true).Path);
        Assert.Equal("$.linux.gidMappings", Single(s => s.Linux().GidMappings = [], rootless: true).Path);
    }

    [Fact]
    public void JoinedUserNamespaceNeedsNoMappings()
    {
        var errors = Errors(s =>
        {
            s.Linux().Namespaces!.Single(n => n.Type == "user").Path = "/proc/42/ns/user";
            s.Linux().UidMappings = null;
            s.Linux().GidMappings = null;
        }, rootless: true);
        Assert.Empty(errors);
    }

    [Fact]
    public void MappingOfSizeZeroIsRefused() =>
        Assert.Equal("$.linux.uidMappings[0].size", Single(s => s.Linux().UidMappings![0].Size = 0, rootless: true).Path);

    [Fact]
    public void TimeOffsetsNeedTimeNamespace()
    {
        var offsets = new Dictionary<string, LinuxTimeOffset> { ["monotonic"] = new() { Secs = 10 } };
        Assert.Equal("$.linux.timeOffsets", Single(s => s.Linux().TimeOffsets = offsets).Path);
        Assert.Empty(Errors(s => { s.Linux().TimeOffsets = offsets; s.Linux().Namespaces!.Add(new() { Type = "time" }); }));
        var joined = Single(s => { s.Linux().TimeOffsets = offsets; s.Linux().Namespaces!.Add(new() { Type = "time", Path = "/proc/9/ns/time" }); });
        Assert.Contains("joined", joined.Message);
    }

    [Fact]
    public void TimeOffsetClockMustBeMonotonicOrBoottime()
    {
        var e = Single(s =>
        {
            s.Linux().Namespaces!.Add(new() { Type = "time" });
            s.Linux().TimeOffsets = new() { ["boottime"] = new() { Secs = 1 }, ["realtime"] = new() { Secs = 1 } };
        });
        Assert.Equal("$.linux.timeOffsets.realtime", e.Path);
    }

    [Fact]
    public void TimeOffsetNanosecondsBelowOneSecond()
    {
        var e = Single(s =>
        {
            s.Linux().Namespaces!.Add(new() { Type = "time" });
            s.Linux().TimeOffsets = new() { ["monotonic"] = new() { Nanosecs = 1_000_000_000 } };
        });
        Assert.Equal("$.linux.timeOffsets.monotonic.nanosecs", e.Path);
    }

    [Fact]
    public void HostnameNeedsUtsNamespace()
    {
        Assert.Equal("$.hostname", Single(s => s.Linux().Namespaces!.RemoveAll(n => n.Type == "uts")).Path);
        Assert.Equal("$.domainname", Single(s => { s.Hostname = null; s.Domainname = "example.org"; s.Linux().Namespaces!.RemoveAll(n => n.Type == "uts"); }).Path);
        Assert.Empty(Errors(s => s.Linux().Namespaces!.Single(n => n.Type == "uts").Path = "/proc/7/ns/uts"));
    }

    [Theory]
    [InlineData("kernel.msgmax", "ipc")]
    [InlineData("kernel.sem", "ipc")]
    [InlineData("kernel.shm_rmid_forced", "ipc")]
    [InlineData("fs.mqueue.msg_max", "ipc")]
    [InlineData("net.ipv4.ip_forward", "network")]
    [InlineData("net/ipv4/conf/eth0.100/rp_filter", "network")]
    [InlineData("kernel.domainname", "uts")]
    public void NamespacedSysctlsNeedTheirNamespace(string key, string ns)
    {
        Assert.Empty(Errors(s => s.Linux().Sysctl = new() { [key] = "1" }));
        var e = Single(s => { s.Linux().Sysctl = new() { [key] = "1" }; s.Linux().Namespaces!.RemoveAll(n => n.Type == ns); s.Hostname = null; });
        Assert.Equal($"$.linux.sysctl.{key}", e.Path);
    }

    [Theory]
    [InlineData("kernel.hostname")]
    [InlineData("vm.swappiness")]
    [InlineData("kernel.pid_max")]
    [InlineData("fs.file-max")]
    public void HostWideSysctlsAreRefused(string key) =>
        Assert.Equal($"$.linux.sysctl.{key}", Single(s => s.Linux().Sysctl = new() { [key] = "1" }).Path);

    [Theory]
    [InlineData("private")]
    [InlineData("rprivate")]
    [InlineData("slave")]
    [InlineData("rslave")]
    [InlineData("shared")]
    [InlineData("rshared")]
    [InlineData("unbindable")]
    [InlineData("runbindable")]
    public void KnownRootfsPropagationIsAccepted(string value) =>
        Assert.Empty(Errors(s => s.Linux().RootfsPropagation = value));

    [Fact]
    public void UnknownRootfsPropagationIsRefused() =>
        Assert.Equal("$.linux.rootfsPropagation", Single(s => s.Linux().RootfsPropagation = "rslaves").Path);

    [Fact]
    public void AllSixteenRlimitsAreKnown()
    {
        string[] names = ["RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
            "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
            "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"];
        Assert.Empty(Errors(s => s.Process!.Rlimits = [.. names.Select(n => new PosixRlimit { Type = n, Soft = 1, Hard = 2 })]));
    }

    [Fact]
    public void UnknownRlimitIsRefused()
    {
        var e = Single(s => s.Process!.Rlimits!.Add(new PosixRlimit { Type = "RLIMIT_FOO", Soft = 1, Hard = 1 }));
        Assert.Equal("$.process.rlimits[1].type", e.Path);
        Assert.Contains("RLIMIT_FOO", e.Message);
    }

    [Fact]
    public void RlimitSoftAboveHardIsRefused() =>
        Assert.Equal("$.process.rlimits[0].soft", Single(s => s.Process!.Rlimits![0].Soft = 4096).Path);

    [Fact]
    public void DuplicateRlimitIsRefused() =>
        Assert.Equal("$.process.rlimits[1].type", Single(s => s.Process!.Rlimits!.Add(new PosixRlimit { Type = "RLIMIT_NOFILE", Soft = 1, Hard = 1 })).Path);

    [Fact]
    public void UnknownCapabilityIsRefused()
    {
        var e = Single(s => s.Process!.Capabilities!.Effective!.Add("CAP_FLY"));
        Assert.Equal("$.process.capabilities.effective[3]", e.Path);
        Assert.Contains("CAP_FLY", e.Message);
        Assert.Equal("$.process.capabilities.inheritable[0]", Single(s => s.Process!.Capabilities!.Inheritable = ["SYS_ADMIN"]).Path);
    }

    [Fact]
    public void CapabilityNamesIgnoreCase() =>
        Assert.Empty(Errors(s => s.Process!.Capabilities!.Bounding = ["cap_sys_admin", "CAP_CHECKPOINT_RESTORE"]));

    [Fact]
    public void OomScoreAdjRange()
    {
        Assert.Empty(Errors(s => s.Process!.OomScoreAdj = -1000));
        Assert.Equal("$.process.oomScoreAdj", Single(s => s.Process!.OomScoreAdj = 1001).Path);
    }

    [Fact]
    public void SchedulerRules()
    {
        Assert.Empty(Errors(s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_FIFO", Priority = 10 }));
        Assert.Equal("$.process.scheduler.policy", Single(s => s.Process!.Scheduler = new Scheduler()).Path);
        Assert.Equal("$.process.scheduler.priority", Single(s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_OTHER", Priority = 1 }).Path);
        Assert.Equal("$.process.scheduler.nice", Single(s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_OTHER", Nice = 20 }).Path);
    }

    [Theory]
    [InlineData("c")]
    [InlineData("b")]
    [InlineData("u")]
    [InlineData("p")]
    public void DeviceTypesAccepted(string type) =>
        Assert.Empty(Errors(s => s.Linux().Devices = [new LinuxDevice { Path = "/dev/fuse", Type = type, Major = 10, Minor = 229 }]));

    [Fact]
    public void UnknownDeviceTypeIsRefused() =>
        Assert.Equal("$.linux.devices[0].type", Single(s => s.Linux().Devices = [new LinuxDevice { Path = "/dev/x", Type = "s" }]).Path);

    [Theory]
    [InlineData("dev/fuse")]
    [InlineData("/etc/passwd")]
    [InlineData("/dev/../etc/shadow")]
    [InlineData("/dev")]
    [InlineData("/device")]
    public void DevicePathMustBeUnderDev(string path) =>
        Assert.Equal("$.linux.devices[0].path", Single(s => s.Linux().Devices = [new LinuxDevice { Path = path, Type = "c", Major = 1, Minor = 3 }]).Path);

    [Fact]
    public void MaskedAndReadonlyPathsMustBeAbsolute()
    {
        Assert.Equal("$.linux.maskedPaths[10]", Single(s => s.Linux().MaskedPaths!.Add("proc/x")).Path);
        Assert.Equal("$.linux.readonlyPaths[0]", Single(s => s.Linux().ReadonlyPaths![0] = "proc/bus").Path);
    }

    [Fact]
    public void MaskedPathsNeedMountNamespace() =>
        Assert.Equal("$.linux.maskedPaths", Single(s => s.Linux().Namespaces!.RemoveAll(n => n.Type == "mount")).Path);

    [Fact]
    public void DeviceCgroupRulesNeedAccess()
    {
        Assert.Equal("$.linux.resources.devices[0].access", Single(s => s.Linux().Resources!.Devices![0].Access = null).Path);
        Assert.Equal("$.linux.resources.devices[0].access", Single(s => s.Linux().Resources!.Devices![0].Access = "rwx").Path);
        Assert.Equal("$.linux.resources.devices[0].type", Single(s => s.Linux().Resources!.Devices![0].Type = "u").Path);
    }

    [Fact]
    public void PersonalityDomain()
    {
        Assert.Empty(Errors(s => s.Linux().Personality = new LinuxPersonality { Domain = "LINUX32" }));
        Assert.Equal("$.linux.personality.domain", Single(s => s.Linux().Personality = new LinuxPersonality { Domain = "BSD" }).Path);
    }

    [Fact]
    public void ReportsEveryErrorNotJustTheFirst()
    {
        var errors = Errors(s => { s.OciVersion = ""; s.Process!.Cwd = "x"; s.Linux().Namespaces![0].Type = "bogus"; });
        Assert.Equal(["$.ociVersion", "$.process.cwd", "$.linux.namespaces[0].type"], errors.Select(e => e.Path));
    }

    [Fact]
    public void ValidateOrThrowListsPathsAndSource()
    {
        var spec = TestSpecs.Valid();
        spec.Process!.Args = [];
        spec.Root = null;
        var e = Assert.Throws<SpecException>(() => SpecValidator.ValidateOrThrow(spec, "/bundle/config.json"));
        Assert.StartsWith("/bundle/config.json: invalid spec:", e.Message);
        Assert.Contains("$.process.args: args must not be empty", e.Message);
        Assert.Contains("$.root: root is required", e.Message);
        Assert.Equal(2, e.Errors.Count);
    }

    [Fact]
    public void ValidateProcessUsesGivenRootPath()
    {
        var e = Assert.Single(SpecValidator.ValidateProcess(new Process { Args = ["sh"], Cwd = "tmp" }, "$"));
        Assert.Equal("$.cwd", e.Path);
    }

    [Fact]
    public void JsonNullsBecomeErrorsNotCrashes()
    {
        var json = """
        {"ociVersion":"1.2.0","root":{"path":null},
         "process":{"args":["sh",null],"cwd":"/","user":null,
                    "rlimits":[null,{"type":null,"soft":1,"hard":1}],"capabilities":{"bounding":[null]}},
         "mounts":[null,{"destination":null,"options":[null]}],
         "linux":{"namespaces":[null,{"type":"time"}],"uidMappings":[null],
                  "timeOffsets":{"monotonic":null},"devices":[null],"maskedPaths":[null],"resources":{"devices":[null]}}}
        """;
        var errors = SpecValidator.Validate(SpecLoader.Parse(json, "config.json"));
        var paths = errors.Select(e => e.Path).ToList();
        foreach (var expected in new[] { "$.root.path", "$.process.args[1]", "$.process.user", "$.process.rlimits[0]",
                     "$.process.rlimits[1].type", "$.process.capabilities.bounding[0]", "$.mounts[0]", "$.mounts[1].destination",
                     "$.linux.namespaces[0]", "$.linux.uidMappings", "$.linux.uidMappings[0]", "$.linux.timeOffsets.monotonic",
                     "$.linux.devices[0]", "$.linux.resources.devices[0]", "$.mounts[1].options[0]", "$.linux.maskedPaths[0]" })
            Assert.Contains(expected, paths);
    }
}
