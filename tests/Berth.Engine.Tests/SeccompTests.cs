using Berth.Oci;

namespace Berth.Engine.Tests;

/// <summary>
/// Docker's default profile resolved as dockerd resolves it. The resolved forms for the default set, --cap-drop ALL,
/// --cap-add SYS_ADMIN and --cap-add ALL are checked against dockerd's own output in the captured specs; these
/// tests cover the conditions the captures cannot vary (kernel, architecture) and the profile format.
/// </summary>
public class SeccompTests
{
    static readonly string[] DefaultCaps = [.. Capabilities.Default];

    static List<string> Groups(LinuxSeccomp resolved) => [.. resolved.Syscalls!.Select(s => string.Join(',', s.Names))];

    [Fact]
    public void Default_profile_for_the_default_capabilities_has_dockerds_twelve_groups()
    {
        var resolved = DockerSeccomp.Resolve(DockerSeccomp.Default(), DefaultCaps, "amd64", TestEnvironment.Kernel);
        Assert.Equal("SCMP_ACT_ERRNO", resolved.DefaultAction);
        Assert.Null(resolved.DefaultErrnoRet);
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], resolved.Architectures!);
        Assert.Equal(12, resolved.Syscalls!.Count);
        Assert.Equal(346, resolved.Syscalls[0].Names.Count);
        Assert.Equal(["ptrace", "personality", "personality", "personality", "personality", "personality", "arch_prctl", "modify_ldt", "clone", "clone3", "chroot"],
            Groups(resolved).Skip(1));
        Assert.Equal(38u, resolved.Syscalls[10].ErrnoRet);
    }

    [Fact]
    public void Ptrace_needs_kernel_4_8()
    {
        var old = DockerSeccomp.Resolve(DockerSeccomp.Default(), DefaultCaps, "amd64", "4.4.0-210-generic");
        Assert.DoesNotContain("ptrace", Groups(old));
        var exact = DockerSeccomp.Resolve(DockerSeccomp.Default(), DefaultCaps, "amd64", "4.8");
        Assert.Contains("ptrace", Groups(exact));
    }

    [Fact]
    public void Architecture_rules_apply_only_on_their_architecture()
    {
        var arm = DockerSeccomp.Resolve(DockerSeccomp.Default(), DefaultCaps, "arm64", TestEnvironment.Kernel);
        Assert.DoesNotContain("arch_prctl", Groups(arm));
        Assert.DoesNotContain("modify_ldt", Groups(arm));
        // No archMap entry for arm64 in Berth's copy (Berth runs on x86-64): the runtime then covers the native ABI only.
        Assert.Empty(arm.Architectures!);
    }

    [Fact]
    public void Includes_need_every_capability_and_excludes_any()
    {
        var profile = DockerSeccomp.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
              {"names":["both"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_A","CAP_B"]}},
              {"name":"legacy","action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_B","CAP_C"]}},
              {"names":["new"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"7.0"}},
              {"names":["x32only"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}}]}
            """);
        Assert.Equal(["legacy", "new"], Groups(DockerSeccomp.Resolve(profile, ["CAP_A"], "amd64", "6.18")));
        Assert.Equal(["both"], Groups(DockerSeccomp.Resolve(profile, ["CAP_A", "CAP_B"], "amd64", "7.1")));
        Assert.Equal(["SCMP_ARCH_X86_64"], DockerSeccomp.Resolve(profile, [], "amd64", "6.1").Architectures!);
    }

    [Fact]
    public void A_rule_with_both_name_and_names_is_refused()
    {
        var profile = DockerSeccomp.Parse("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}""");
        Assert.Equal("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'",
            Assert.Throws<ContainerConfigException>(() => DockerSeccomp.Resolve(profile, [], "amd64", "6.1")).Message);
    }

    [Fact]
    public void A_rule_without_names_is_refused()
    {
        var profile = DockerSeccomp.Parse("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}""");
        Assert.Equal("a rule of the seccomp profile names no syscall (action SCMP_ACT_ALLOW)",
            Assert.Throws<ContainerConfigException>(() => DockerSeccomp.Resolve(profile, [], "amd64", "6.1")).Message);
    }

    [Fact]
    public void A_custom_profile_in_SecurityOpt_is_resolved_like_the_default()
    {
        var request = TestEnvironment.CliRequest((_, h) => h.SecurityOpt =
            ["""seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_CHROOT"]}},{"names":["rmdir"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"""]);
        var record = new ContainerRecord(new string('c', 64), "custom", request, request.HostConfig!, "/rootfs");
        var spec = Populate.Command(record, TestEnvironment.BusyboxImage, TestEnvironment.BusyboxUsers, TestEnvironment.Create()).Spec;
        Assert.Equal("SCMP_ACT_ALLOW", spec.Linux!.Seccomp!.DefaultAction);
        Assert.Equal(["mkdir"], Groups(spec.Linux.Seccomp));
    }

    [Fact]
    public void Privileged_has_no_profile_even_when_one_is_given()
    {
        var request = TestEnvironment.CliRequest((_, h) => { h.Privileged = true; h.SecurityOpt = ["seccomp=builtin"]; });
        var record = new ContainerRecord(new string('d', 64), "priv", request, request.HostConfig!, "/rootfs");
        Assert.Null(Populate.Command(record, TestEnvironment.BusyboxImage, TestEnvironment.BusyboxUsers, TestEnvironment.Create()).Spec.Linux!.Seccomp);
    }
}
