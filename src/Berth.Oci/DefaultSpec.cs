using System.Text;
using System.Text.Json;

namespace Berth.Oci;

/// <summary>
/// The example config.json that `berth-runtime spec` writes: the same content as `runc spec` (runc 1.1), with
/// Berth's spec version and hostname. With <c>rootless</c> it is adjusted as `runc spec --rootless` does: a user
/// namespace mapping the caller's uid/gid to root, no network namespace, /sys bind-mounted, no gid= options,
/// no cgroup resources.
/// </summary>
public static class DefaultSpec
{
    public const string Hostname = "berth";

    /// <param name="rootless">Produce the rootless variant.</param>
    /// <param name="cgroupNamespace">Add a cgroup namespace; runc does this on hosts where cgroup v2 is unified.</param>
    /// <param name="hostUid">Host uid mapped to root in the rootless variant; default: this process's effective uid.</param>
    /// <param name="hostGid">Host gid mapped to root in the rootless variant; default: this process's effective gid.</param>
    public static Spec Create(bool rootless, bool cgroupNamespace = false, uint? hostUid = null, uint? hostGid = null)
    {
        List<string> caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        var spec = new Spec
        {
            OciVersion = SpecVersion.Current,
            Process = new Process
            {
                Terminal = true,
                User = new User { Uid = 0, Gid = 0 },
                Args = ["sh"],
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                Cwd = "/",
                Capabilities = new LinuxCapabilities
                {
                    Bounding = [.. caps],
                    Effective = [.. caps],
                    Permitted = [.. caps],
                    Ambient = [.. caps],
                },
                Rlimits = [new PosixRlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
                NoNewPrivileges = true,
            },
            Root = new Root { Path = "rootfs", Readonly = true },
            Hostname = Hostname,
            Mounts =
            [
                new() { Destination = "/proc", Type = "proc", Source = "proc" },
                new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
                new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
                new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
                new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
                new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
                new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] },
            ],
            Linux = new Linux
            {
                Resources = new LinuxResources { Devices = [new LinuxDeviceCgroup { Allow = false, Access = "rwm" }] },
                Namespaces = [new() { Type = "pid" }, new() { Type = "network" }, new() { Type = "ipc" }, new() { Type = "uts" }, new() { Type = "mount" }],
                MaskedPaths =
                [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                ],
                ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            },
        };
        if (cgroupNamespace)
            spec.Linux.Namespaces.Add(new() { Type = "cgroup" });
        if (rootless)
            MakeRootless(spec, hostUid ?? CurrentId("Uid"), hostGid ?? CurrentId("Gid"));
        return spec;
    }

    /// <summary>The spec as config.json text, laid out as runc writes it (tab indentation, no final newline).</summary>
    public static string ToJson(Spec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, IndentCharacter = '\t', IndentSize = 1 }))
            JsonSerializer.Serialize(writer, spec, OciJsonContext.Default.Spec);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void MakeRootless(Spec spec, uint uid, uint gid)
    {
        var linux = spec.Linux!;
        linux.Namespaces = [.. linux.Namespaces!.Where(n => n.Type is not ("network" or "user")), new() { Type = "user" }];
        linux.UidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = uid, Size = 1 }];
        linux.GidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = gid, Size = 1 }];
        linux.Resources = null;

        var mounts = new List<Mount>();
        foreach (var m in spec.Mounts!)
        {
            // sysfs cannot be mounted without a network namespace owned by the user namespace: bind the host's.
            if (m.Destination == "/sys")
            {
                mounts.Add(new Mount { Destination = "/sys", Type = "none", Source = "/sys", Options = ["rbind", "nosuid", "noexec", "nodev", "ro"] });
                continue;
            }
            // Only one id is mapped, so gid=5 / uid=N would name an unmapped id.
            if (m.Options is not null)
                m.Options = [.. m.Options.Where(o => !o.StartsWith("gid=", StringComparison.Ordinal) && !o.StartsWith("uid=", StringComparison.Ordinal))];
            mounts.Add(m);
        }
        spec.Mounts = mounts;
    }

    // The effective id from /proc/self/status ("Uid:\treal\teffective\tsaved\tfs"): .NET has no geteuid.
    private static uint CurrentId(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var parts = line[(field.Length + 1)..].Split('\t', StringSplitOptions.RemoveEmptyEntries);
                return uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"/proc/self/status has no {field} line");
    }
}
