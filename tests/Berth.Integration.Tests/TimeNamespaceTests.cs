using System.Globalization;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

// runc 1.1.5 rejects the "time" namespace type (support came in runc 1.2).
[Trait("runc-compatible", "false")]
public sealed class TimeNamespaceTests(ITestOutputHelper output) : ContainerTest(output)
{
    private const long BoottimeOffset = 10 * 86400;
    private const long MonotonicOffset = 5 * 86400;

    [SkippableFact]
    public void TimeOffsets_ShiftBoottimeAndMonotonic()
    {
        var spec = Specs.Shell("cat /proc/self/timens_offsets; echo uptime $(cat /proc/uptime)").WithNamespace("time");
        spec.Linux()["timeOffsets"] = new JsonObject
        {
            ["boottime"] = new JsonObject { ["secs"] = BoottimeOffset, ["nanosecs"] = 0 },
            ["monotonic"] = new JsonObject { ["secs"] = MonotonicOffset, ["nanosecs"] = 0 },
        };
        var hostUptime = HostUptimeSeconds();

        var stdout = RunShell(spec);

        Assert.Matches($@"(?m)^monotonic\s+{MonotonicOffset}\s+0$", stdout);
        Assert.Matches($@"(?m)^boottime\s+{BoottimeOffset}\s+0$", stdout);
        var uptimeLine = stdout.Split('\n').Single(l => l.StartsWith("uptime ", StringComparison.Ordinal));
        var containerUptime = double.Parse(uptimeLine.Split(' ')[1], CultureInfo.InvariantCulture);
        Assert.InRange(containerUptime, hostUptime + BoottimeOffset, hostUptime + BoottimeOffset + 60);
    }

    private static double HostUptimeSeconds() =>
        double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture);
}
