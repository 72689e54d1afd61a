using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// linux.resources: limits berth-runtime cannot apply yet are refused; device rules are enforced by the devices
/// cgroup. The spec's rules come first and the runtime appends its default allow list (/dev/null, zero, full,
/// random, urandom, tty, console, ptmx, pts, net/tun) after them, as runc 1.1.5 does, so a spec rule denying one
/// of those devices is overridden; a deny of any other device holds.
/// </summary>
public sealed class ResourceTests(ITestOutputHelper output) : ContainerTest(output)
{
    private const int LoopControlMajor = 10;
    private const int LoopControlMinor = 237;

    // Opens each device for reading; prints "name=open" or "name=<the error>".
    private const string ProbeScript =
        "for d in zero full loop-control; do if ( : < /dev/$d ) 2>/tmp/err; then echo $d=open; else echo $d=$(cat /tmp/err); fi; done";

    private static JsonObject DeviceRule(bool allow, int major, int minor) => new()
    {
        ["allow"] = allow, ["type"] = "c", ["major"] = major, ["minor"] = minor, ["access"] = "rwm",
    };

    /// <summary>A probe spec with a writable /tmp (root is read-only) and the given extra device rules after deny-all.</summary>
    private static JsonObject ProbeSpec(bool withLoopControlNode, params JsonObject[] rules)
    {
        var spec = Specs.Shell(ProbeScript);
        spec.Mounts().Add(Specs.Mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev"));
        var devices = spec.Linux()["resources"]!["devices"]!.AsArray();
        foreach (var rule in rules)
            devices.Add(rule);
        if (withLoopControlNode)
        {
            spec.Linux()["devices"] = new JsonArray(new JsonObject
            {
                ["path"] = "/dev/loop-control", ["type"] = "c", ["major"] = LoopControlMajor, ["minor"] = LoopControlMinor,
                ["fileMode"] = Convert.ToInt32("666", 8), ["uid"] = 0, ["gid"] = 0,
            });
        }
        return spec;
    }

    private static Dictionary<string, string> Probe(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    // Same behaviour in runc 1.1.5: its default allow rules are appended after the spec's.
    [SkippableFact]
    public void DenyRulesForDefaultDevices_AreOverriddenByTheDefaultAllowList()
    {
        var spec = ProbeSpec(false, DeviceRule(false, 1, 5), DeviceRule(false, 1, 7));

        var probe = Probe(RunShell(spec));

        Assert.Equal("open", probe["zero"]);
        Assert.Equal("open", probe["full"]);
    }

    [SkippableFact]
    public void DeviceNode_WithAnAllowRule_CanBeOpened()
    {
        var spec = ProbeSpec(true, DeviceRule(true, LoopControlMajor, LoopControlMinor));

        var probe = Probe(RunShell(spec));

        Assert.Equal("open", probe["loop-control"]);
    }

    // The spec's explicit deny must hold for a device outside the default list. berth-runtime appends an allow
    // rule for every linux.devices entry after the spec's rules, which overrides the deny (runc 1.1.5 does not
    // add such allow rules, and denies: "Operation not permitted").
    [SkippableFact]
    public void DeviceNode_WithADenyRule_CannotBeOpened()
    {
        var spec = ProbeSpec(true, DeviceRule(false, LoopControlMajor, LoopControlMinor));

        var probe = Probe(RunShell(spec));

        Assert.Contains("Operation not permitted", probe["loop-control"]);
        Assert.Equal("open", probe["zero"]);
    }
}
