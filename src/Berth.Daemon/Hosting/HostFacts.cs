using System.Runtime.InteropServices;
using Berth.Cgroups;

namespace Berth.Daemon.Hosting;

/// <summary>What /version and /info say about the machine, read once at start.</summary>
public sealed record HostFacts(
    string KernelVersion,
    string OperatingSystem,
    string OsVersion,
    string Architecture,
    string GoArch,
    int Cpus,
    long MemTotal,
    string Hostname,
    string CgroupVersion)
{
    public static HostFacts Detect()
    {
        var osRelease = ReadOsRelease("/etc/os-release");
        var (arch, goArch) = RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => ("x86_64", "amd64"),
            System.Runtime.InteropServices.Architecture.Arm64 => ("aarch64", "arm64"),
            System.Runtime.InteropServices.Architecture.Arm => ("armv7l", "arm"),
            System.Runtime.InteropServices.Architecture.S390x => ("s390x", "s390x"),
            System.Runtime.InteropServices.Architecture.Ppc64le => ("ppc64le", "ppc64le"),
            System.Runtime.InteropServices.Architecture.RiscV64 => ("riscv64", "riscv64"),
            var other => (other.ToString().ToLowerInvariant(), other.ToString().ToLowerInvariant()),
        };
        return new HostFacts(
            KernelVersion: ReadFirstLine("/proc/sys/kernel/osrelease") ?? "",
            OperatingSystem: osRelease.GetValueOrDefault("PRETTY_NAME") ?? "Linux",
            OsVersion: osRelease.GetValueOrDefault("VERSION_ID") ?? "",
            Architecture: arch,
            GoArch: goArch,
            Cpus: Environment.ProcessorCount,
            MemTotal: ReadMemTotal(),
            Hostname: Environment.MachineName,
            CgroupVersion: DetectCgroupVersion());
    }

    /// <summary>"2" only on a pure cgroup2 host: a hybrid host is "1", as dockerd reports it.</summary>
    static string DetectCgroupVersion()
    {
        try
        {
            return CgroupHost.Detect().Mode == CgroupMode.V2 ? "2" : "1";
        }
        catch (Exception e) when (e is IOException or CgroupException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    static string? ReadFirstLine(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault()?.Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    static long ReadMemTotal()
    {
        foreach (string line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], out long kb)) return kb * 1024;
        }
        return 0;
    }

    /// <summary>KEY=value lines, values unquoted ("..." or '...').</summary>
    internal static Dictionary<string, string> ReadOsRelease(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path)) return values;
        foreach (string raw in File.ReadLines(path))
        {
            string line = raw.Trim();
            int eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0) continue;
            string value = line[(eq + 1)..];
            if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0]) value = value[1..^1];
            values[line[..eq]] = value;
        }
        return values;
    }
}
