using System.Text.Json.Nodes;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// A runc-spec-like default OCI config built as a JsonNode, independent of the runtime's own spec types,
/// so the tests exercise the JSON the runtime must accept, not our C# model of it.
/// </summary>
public static class Specs
{
    public static readonly string[] DefaultNamespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"];

    public static JsonObject Default(params string[] args) => new()
    {
        ["ociVersion"] = "1.0.2-dev",
        ["process"] = new JsonObject
        {
            ["terminal"] = false,
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
            ["args"] = Strings(args),
            ["env"] = Strings("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"),
            ["cwd"] = "/",
            ["capabilities"] = new JsonObject
            {
                ["bounding"] = Strings("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
                ["effective"] = Strings("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
                ["permitted"] = Strings("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
                ["ambient"] = Strings("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
            },
            ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 }),
            ["noNewPrivileges"] = true,
        },
        ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = true },
        ["hostname"] = "bt",
        ["mounts"] = new JsonArray(
            Mount("/proc", "proc", "proc"),
            Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
            Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
            Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
            Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro")),
        ["linux"] = new JsonObject
        {
            ["resources"] = new JsonObject
            {
                ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }),
            },
            ["namespaces"] = Namespaces(DefaultNamespaces),
            ["maskedPaths"] = Strings(
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"),
            ["readonlyPaths"] = Strings("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"),
        },
    };

    /// <summary>A spec running <c>sh -c script</c>.</summary>
    public static JsonObject Shell(string script) => Default("sh", "-c", script);

    public static JsonObject Mount(string destination, string type, string source, params string[] options)
    {
        var mount = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0)
            mount["options"] = Strings(options);
        return mount;
    }

    public static JsonArray Strings(params IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    public static JsonArray Namespaces(params IEnumerable<string> types) =>
        new(types.Select(t => (JsonNode?)new JsonObject { ["type"] = t }).ToArray());

    public static JsonObject Process(this JsonObject spec) => spec["process"]!.AsObject();

    public static JsonObject Linux(this JsonObject spec) => spec["linux"]!.AsObject();

    public static JsonArray Mounts(this JsonObject spec) => spec["mounts"]!.AsArray();

    /// <summary>Replaces the namespace list with exactly these types (no paths).</summary>
    public static JsonObject WithNamespaces(this JsonObject spec, params string[] types)
    {
        spec.Linux()["namespaces"] = Namespaces(types);
        return spec;
    }

    /// <summary>Sets (or adds) one namespace entry, optionally joining an existing namespace by path.</summary>
    public static JsonObject WithNamespace(this JsonObject spec, string type, string? path = null)
    {
        var namespaces = spec.Linux()["namespaces"]!.AsArray();
        var existing = namespaces.FirstOrDefault(n => (string?)n!["type"] == type);
        if (existing is not null)
            namespaces.Remove(existing);
        var entry = new JsonObject { ["type"] = type };
        if (path is not null)
            entry["path"] = path;
        namespaces.Add(entry);
        return spec;
    }

    public static JsonObject WithoutNamespace(this JsonObject spec, string type)
    {
        var namespaces = spec.Linux()["namespaces"]!.AsArray();
        foreach (var entry in namespaces.Where(n => (string?)n!["type"] == type).ToList())
            namespaces.Remove(entry);
        return spec;
    }
}
