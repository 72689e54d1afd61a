namespace Berth.Oci;

/// <summary>
/// The rules a config.json must follow before Berth acts on it: runc's checks (libcontainer/configs/validate,
/// specconv, and the process checks of `runc create`), plus what the kernel would refuse later with a less useful
/// error (soft rlimit above hard, unknown capability, id mapping of size 0). Pure: it reads nothing from the host,
/// so checks that need the host (is this netns path the host's?) belong to the runtime.
/// Every error names the JSON path of the offending value.
/// </summary>
public static class SpecValidator
{
    public static IReadOnlyList<ValidationError> Validate(Spec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<ValidationError>();
        var ns = new NamespaceSet(spec.Linux?.Namespaces);

        if (string.IsNullOrEmpty(spec.OciVersion))
            errors.Add(new("$.ociVersion", "ociVersion is required"));

        if (spec.Root is null)
            errors.Add(new("$.root", "root is required"));
        else if (string.IsNullOrEmpty(spec.Root.Path))
            errors.Add(new("$.root.path", "root.path is required"));

        if (spec.Process is null)
            errors.Add(new("$.process", "process is required"));
        else
            errors.AddRange(ValidateProcess(spec.Process, "$.process"));

        // runc checks for a UTS namespace entry, created or joined: containerd's CRI joins the pod's UTS
        // namespace by path and still sets the hostname.
        if (!string.IsNullOrEmpty(spec.Hostname) && !ns.Has("uts"))
            errors.Add(new("$.hostname", $"cannot set hostname \"{spec.Hostname}\" without a private UTS namespace (add {{\"type\": \"uts\"}} to linux.namespaces)"));
        if (!string.IsNullOrEmpty(spec.Domainname) && !ns.Has("uts"))
            errors.Add(new("$.domainname", $"cannot set domainname \"{spec.Domainname}\" without a private UTS namespace (add {{\"type\": \"uts\"}} to linux.namespaces)"));
        // The kernel's __NEW_UTS_LEN: sethostname and setdomainname refuse longer names with EINVAL.
        foreach (var (field, name) in new[] { ("hostname", spec.Hostname), ("domainname", spec.Domainname) })
            if (name is not null && System.Text.Encoding.UTF8.GetByteCount(name) is var bytes and > 64)
                errors.Add(new($"$.{field}", $"{field} is {bytes} bytes long; the kernel takes at most 64"));

        // Opaque to the runtime, but written into state.json and handed to hooks: a value must be a string.
        foreach (var (key, value) in spec.Annotations ?? [])
            if (value is null)
                errors.Add(new($"$.annotations.{key}", "must be a string, not null"));

        ValidateMounts(spec.Mounts, errors);
        ValidateHooks(spec.Hooks, errors);
        if (spec.Linux is not null)
            ValidateLinux(spec.Linux, ns, errors);
        return errors;
    }

    /// <summary>Throws a <see cref="SpecException"/> listing every error, prefixed by <paramref name="sourceName"/>.</summary>
    public static void ValidateOrThrow(Spec spec, string sourceName = SpecLoader.ConfigFileName)
    {
        var errors = Validate(spec);
        if (errors.Count > 0)
            throw Failure(sourceName, errors);
    }

    /// <summary>
    /// The process rules alone, for the process of config.json and for `exec --process process.json`
    /// (<paramref name="path"/> is the JSON path of the process object, "$" for a process.json).
    /// </summary>
    public static IReadOnlyList<ValidationError> ValidateProcess(Process process, string path = "$.process")
    {
        ArgumentNullException.ThrowIfNull(process);
        var errors = new List<ValidationError>();

        if (process.Args is null || process.Args.Count == 0)
            errors.Add(new($"{path}.args", "args must not be empty"));
        else
            NullStrings(process.Args, $"{path}.args", errors);
        NullStrings(process.Env, $"{path}.env", errors);
        if (process.User is null)
            errors.Add(new($"{path}.user", "user is required"));
        if (string.IsNullOrEmpty(process.Cwd))
            errors.Add(new($"{path}.cwd", "cwd must not be empty"));
        else if (!process.Cwd.StartsWith('/'))
            errors.Add(new($"{path}.cwd", $"cwd \"{process.Cwd}\" must be an absolute path"));

        if (process.Capabilities is { } caps)
        {
            CheckCapabilities(caps.Bounding, $"{path}.capabilities.bounding", errors);
            CheckCapabilities(caps.Effective, $"{path}.capabilities.effective", errors);
            CheckCapabilities(caps.Inheritable, $"{path}.capabilities.inheritable", errors);
            CheckCapabilities(caps.Permitted, $"{path}.capabilities.permitted", errors);
            CheckCapabilities(caps.Ambient, $"{path}.capabilities.ambient", errors);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (process.Rlimits?.Count ?? 0); i++)
        {
            var r = process.Rlimits![i];
            var at = $"{path}.rlimits[{i}]";
            if (IsNull(r, at, errors))
                continue;
            if (!LinuxNames.TryGetRlimit(r.Type, out _))
                errors.Add(new($"{at}.type", $"unknown rlimit type \"{r.Type}\" (expected one of {string.Join(", ", LinuxNames.Rlimits)})"));
            else if (!seen.Add(r.Type))
                errors.Add(new($"{at}.type", $"rlimit {r.Type} is given more than once"));
            if (r.Soft > r.Hard)
                errors.Add(new($"{at}.soft", $"soft limit {r.Soft} of {r.Type} is above its hard limit {r.Hard}"));
        }

        if (process.OomScoreAdj is { } oom && (oom < -1000 || oom > 1000))
            errors.Add(new($"{path}.oomScoreAdj", $"oomScoreAdj {oom} is outside -1000..1000"));

        if (process.Scheduler is { } s)
            CheckScheduler(s, $"{path}.scheduler", errors);
        return errors;
    }

    internal static SpecException Failure(string sourceName, IReadOnlyList<ValidationError> errors) =>
        new($"{sourceName}: invalid spec: {string.Join("; ", errors)}", errors);

    private static void CheckCapabilities(List<string>? names, string path, List<ValidationError> errors)
    {
        for (var i = 0; i < (names?.Count ?? 0); i++)
        {
            if (!LinuxNames.TryGetCapability(names![i], out _))
                errors.Add(new($"{path}[{i}]", $"unknown capability \"{names[i]}\""));
        }
    }

    // sched_setattr(2) rules, as runc's validator has them.
    private static void CheckScheduler(Scheduler s, string path, List<ValidationError> errors)
    {
        string[] policies = ["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"];
        if (string.IsNullOrEmpty(s.Policy))
            errors.Add(new($"{path}.policy", "scheduler policy is required"));
        else if (!policies.Contains(s.Policy))
            errors.Add(new($"{path}.policy", $"unknown scheduler policy \"{s.Policy}\""));
        if (s.Nice is { } nice && (nice < -20 || nice > 19))
            errors.Add(new($"{path}.nice", $"nice {nice} is outside -20..19"));
        if (s.Priority is { } prio && prio != 0 && s.Policy is not ("SCHED_FIFO" or "SCHED_RR"))
            errors.Add(new($"{path}.priority", "scheduler priority can only be set for SCHED_FIFO or SCHED_RR"));
        if (s.Policy != "SCHED_DEADLINE" && (s.Runtime is > 0 || s.Deadline is > 0 || s.Period is > 0))
            errors.Add(new(path, "scheduler runtime/deadline/period can only be set for SCHED_DEADLINE"));
    }

    private static void ValidateMounts(List<Mount>? mounts, List<ValidationError> errors)
    {
        for (var i = 0; i < (mounts?.Count ?? 0); i++)
        {
            var m = mounts![i];
            var at = $"$.mounts[{i}]";
            if (IsNull(m, at, errors))
                continue;
            // A relative destination is taken relative to "/" (runc only warns, for old configs).
            if (string.IsNullOrEmpty(m.Destination))
                errors.Add(new($"{at}.destination", "mount destination is required"));
            if (HasNul(m.Destination) || HasNul(m.Source) || HasNul(m.Type))
                errors.Add(new(at, "mount field contains a NUL byte"));

            var isBind = m.Type == "bind";
            for (var j = 0; j < (m.Options?.Count ?? 0); j++)
            {
                var o = m.Options![j];
                if (IsNull(o, $"{at}.options[{j}]", errors))
                    continue;
                if (o is "bind" or "rbind")
                    isBind = true;
                else if (o is "idmap" or "ridmap")
                    errors.Add(new($"{at}.options[{j}]", $"mount option \"{o}\" is not supported yet"));
                else if (o == "tmpcopyup" && m.Type != "tmpfs")
                    errors.Add(new($"{at}.options[{j}]", "mount option \"tmpcopyup\" applies to tmpfs mounts only"));
            }
            if (m.UidMappings is not null || m.GidMappings is not null)
                errors.Add(new(m.UidMappings is not null ? $"{at}.uidMappings" : $"{at}.gidMappings",
                    "id-mapped mounts (mount uidMappings/gidMappings) are not supported yet"));
            if (isBind && string.IsNullOrEmpty(m.Source))
                errors.Add(new($"{at}.source", $"bind mount on \"{m.Destination}\" needs a source"));
        }
    }

    // Hooks run on the host, by path, from the runtime's cwd: a relative path would be looked up there.
    private static void ValidateHooks(Hooks? hooks, List<ValidationError> errors)
    {
        if (hooks is null)
            return;
        (string Name, List<Hook>? List)[] stages =
        [
            ("prestart", hooks.Prestart), ("createRuntime", hooks.CreateRuntime), ("createContainer", hooks.CreateContainer),
            ("startContainer", hooks.StartContainer), ("poststart", hooks.Poststart), ("poststop", hooks.Poststop),
        ];
        foreach (var (name, list) in stages)
        {
            for (var i = 0; i < (list?.Count ?? 0); i++)
            {
                var at = $"$.hooks.{name}[{i}]";
                if (IsNull(list![i], at, errors))
                    continue;
                NullStrings(list[i].Args, $"{at}.args", errors);
                NullStrings(list[i].Env, $"{at}.env", errors);
                var path = list[i].Path;
                if (string.IsNullOrEmpty(path))
                    errors.Add(new($"{at}.path", "a hook needs a path"));
                else if (!path.StartsWith('/'))
                    errors.Add(new($"{at}.path", $"hook path \"{path}\" must be absolute"));
            }
        }
    }

    // A JSON null in a list of strings (args, env) would reach the process's argv or envp as nothing, or a crash.
    private static void NullStrings(List<string>? list, string path, List<ValidationError> errors)
    {
        if (list?.IndexOf(null!) is var at and >= 0)
            errors.Add(new($"{path}[{at}]", "must be a string, not null"));
    }

    // JSON null inside an array or map deserialises to a null element; report it instead of failing later.
    private static bool IsNull(object? item, string path, List<ValidationError> errors)
    {
        if (item is not null)
            return false;
        errors.Add(new(path, "must not be null"));
        return true;
    }

    private static bool HasNul(string? s) => s is not null && s.Contains('\0');

    private static void ValidateLinux(Linux linux, NamespaceSet ns, List<ValidationError> errors)
    {
        // Namespaces: known, once each, joined by an absolute path.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (linux.Namespaces?.Count ?? 0); i++)
        {
            var n = linux.Namespaces![i];
            var at = $"$.linux.namespaces[{i}]";
            if (IsNull(n, at, errors))
                continue;
            if (!LinuxNames.NamespaceTypes.Contains(n.Type))
                errors.Add(new($"{at}.type", $"unknown namespace type \"{n.Type}\" (expected one of {string.Join(", ", LinuxNames.NamespaceTypes)})"));
            else if (!seen.Add(n.Type))
                errors.Add(new($"{at}.type", $"namespace \"{n.Type}\" is listed more than once"));
            if (!string.IsNullOrEmpty(n.Path) && !n.Path.StartsWith('/'))
                errors.Add(new($"{at}.path", $"namespace path \"{n.Path}\" must be absolute"));
        }

        // User namespace and id mappings go together; a joined user namespace brings its own mappings
        // (runc tolerates mappings next to a path when they match the joined namespace; the runtime checks that).
        var hasUidMaps = linux.UidMappings is { Count: > 0 };
        var hasGidMaps = linux.GidMappings is { Count: > 0 };
        if (!ns.Has("user"))
        {
            if (linux.UidMappings is not null)
                errors.Add(new("$.linux.uidMappings", "uidMappings need a user namespace (add {\"type\": \"user\"} to linux.namespaces)"));
            if (linux.GidMappings is not null)
                errors.Add(new("$.linux.gidMappings", "gidMappings need a user namespace (add {\"type\": \"user\"} to linux.namespaces)"));
        }
        else if (ns.Creates("user"))
        {
            if (!hasUidMaps)
                errors.Add(new("$.linux.uidMappings", "a new user namespace needs uidMappings"));
            if (!hasGidMaps)
                errors.Add(new("$.linux.gidMappings", "a new user namespace needs gidMappings"));
        }
        CheckMappings(linux.UidMappings, "$.linux.uidMappings", errors);
        CheckMappings(linux.GidMappings, "$.linux.gidMappings", errors);

        // Time offsets are written once, into a namespace this container creates.
        if (linux.TimeOffsets is { } offsets)
        {
            if (!ns.Has("time"))
                errors.Add(new("$.linux.timeOffsets", "timeOffsets need a time namespace (add {\"type\": \"time\"} to linux.namespaces)"));
            else if (!ns.Creates("time"))
                errors.Add(new("$.linux.timeOffsets", "timeOffsets cannot be set on a joined time namespace"));
            foreach (var (clock, offset) in offsets)
            {
                if (IsNull(offset, $"$.linux.timeOffsets.{clock}", errors))
                    continue;
                if (clock is not ("monotonic" or "boottime"))
                    errors.Add(new($"$.linux.timeOffsets.{clock}", $"unknown clock \"{clock}\" (expected monotonic or boottime)"));
                if (offset.Nanosecs >= 1_000_000_000)
                    errors.Add(new($"$.linux.timeOffsets.{clock}.nanosecs", $"nanosecs {offset.Nanosecs} must be below 1000000000"));
            }
        }

        foreach (var (key, value) in linux.Sysctl ?? [])
        {
            if (SysctlProblem(key, ns) is { } problem)
                errors.Add(new($"$.linux.sysctl.{key}", problem));
            else if (value is null)
                errors.Add(new($"$.linux.sysctl.{key}", "must be a string, not null"));
        }

        if (!string.IsNullOrEmpty(linux.RootfsPropagation) && !LinuxNames.PropagationNames.Contains(linux.RootfsPropagation))
            errors.Add(new("$.linux.rootfsPropagation", $"rootfsPropagation \"{linux.RootfsPropagation}\" is not one of {string.Join(", ", LinuxNames.PropagationNames)}"));

        CheckAbsolutePaths(linux.MaskedPaths, "$.linux.maskedPaths", errors);
        CheckAbsolutePaths(linux.ReadonlyPaths, "$.linux.readonlyPaths", errors);
        if ((linux.MaskedPaths is { Count: > 0 } || linux.ReadonlyPaths is { Count: > 0 }) && !ns.Has("mount"))
            errors.Add(new(linux.MaskedPaths is { Count: > 0 } ? "$.linux.maskedPaths" : "$.linux.readonlyPaths",
                "masked and readonly paths need a mount namespace (add {\"type\": \"mount\"} to linux.namespaces)"));

        for (var i = 0; i < (linux.Devices?.Count ?? 0); i++)
        {
            if (!IsNull(linux.Devices![i], $"$.linux.devices[{i}]", errors))
                CheckDevice(linux.Devices[i], $"$.linux.devices[{i}]", errors);
        }

        for (var i = 0; i < (linux.Resources?.Devices?.Count ?? 0); i++)
        {
            var d = linux.Resources!.Devices![i];
            var at = $"$.linux.resources.devices[{i}]";
            if (IsNull(d, at, errors))
                continue;
            if (d.Type is not (null or "" or "a" or "b" or "c"))
                errors.Add(new($"{at}.type", $"device cgroup type \"{d.Type}\" is not a, b or c"));
            if (string.IsNullOrEmpty(d.Access))
                errors.Add(new($"{at}.access", "device cgroup access must not be empty"));
            else if (d.Access.Any(c => c is not ('r' or 'w' or 'm')))
                errors.Add(new($"{at}.access", $"device cgroup access \"{d.Access}\" may only contain r, w and m"));
        }

        if (linux.Personality is { } p && p.Domain is not ("LINUX" or "LINUX32"))
            errors.Add(new("$.linux.personality.domain", $"personality domain \"{p.Domain}\" is not LINUX or LINUX32"));
    }

    private static void CheckMappings(List<LinuxIdMapping>? maps, string path, List<ValidationError> errors)
    {
        for (var i = 0; i < (maps?.Count ?? 0); i++)
        {
            if (!IsNull(maps![i], $"{path}[{i}]", errors) && maps[i].Size == 0)
                errors.Add(new($"{path}[{i}].size", "mapping size must be at least 1"));
        }
    }

    private static void CheckAbsolutePaths(List<string>? paths, string path, List<ValidationError> errors)
    {
        for (var i = 0; i < (paths?.Count ?? 0); i++)
        {
            if (!IsNull(paths![i], $"{path}[{i}]", errors) && !paths[i].StartsWith('/'))
                errors.Add(new($"{path}[{i}]", $"\"{paths[i]}\" must be an absolute path"));
        }
    }

    private static void CheckDevice(LinuxDevice d, string at, List<ValidationError> errors)
    {
        if (d.Type is not ("c" or "b" or "u" or "p"))
            errors.Add(new($"{at}.type", $"device type \"{d.Type}\" is not c, b, u or p"));
        if (string.IsNullOrEmpty(d.Path))
        {
            errors.Add(new($"{at}.path", "device path is required"));
            return;
        }
        // Normalise so "/dev/../etc/x" cannot pass as a device under /dev.
        var full = d.Path.StartsWith('/') ? Path.GetFullPath(d.Path) : null;
        if (full is null || !full.StartsWith("/dev/", StringComparison.Ordinal) || full.Length <= "/dev/".Length)
            errors.Add(new($"{at}.path", $"device path \"{d.Path}\" must be an absolute path under /dev"));
        if (d.Major < 0 || d.Minor < 0)
            errors.Add(new(at, $"device {d.Path} has a negative major or minor number"));
    }

    // Which sysctls a container may set: only those the kernel keeps per namespace, and only when the container
    // has that namespace (runc's rules; "/" separators are accepted as sysctl(8) accepts them).
    private static string? SysctlProblem(string key, NamespaceSet ns)
    {
        var s = DotSeparated(key);
        if (s is "kernel.msgmax" or "kernel.msgmnb" or "kernel.msgmni" or "kernel.sem" or "kernel.shmall"
            or "kernel.shmmax" or "kernel.shmmni" or "kernel.shm_rmid_forced" || s.StartsWith("fs.mqueue.", StringComparison.Ordinal))
        {
            return ns.Has("ipc") ? null : $"sysctl \"{key}\" needs an IPC namespace (it would change the host's)";
        }
        if (s.StartsWith("net.", StringComparison.Ordinal))
            return ns.Has("network") ? null : $"sysctl \"{key}\" needs a network namespace (it would change the host's)";
        if (s == "kernel.domainname")
            return ns.Has("uts") ? null : $"sysctl \"{key}\" needs a UTS namespace (it would change the host's)";
        if (s == "kernel.hostname")
            return "sysctl \"kernel.hostname\" conflicts with the spec's hostname field; set hostname instead";
        return $"sysctl \"{key}\" is not namespaced: setting it would change the host";
    }

    // "net/ipv4/conf/eth0.100/rp_filter" is "net.ipv4.conf.eth0/100.rp_filter": when the first separator is a
    // slash, slashes and dots swap roles.
    private static string DotSeparated(string key)
    {
        var first = key.IndexOfAny(['.', '/']);
        if (first < 0 || key[first] == '.')
            return key;
        return string.Create(key.Length, key, static (span, k) =>
        {
            for (var i = 0; i < k.Length; i++)
                span[i] = k[i] switch { '.' => '/', '/' => '.', var c => c };
        });
    }

    private readonly struct NamespaceSet(List<LinuxNamespace>? namespaces)
    {
        public bool Has(string type) => namespaces?.Any(n => n?.Type == type) == true;

        /// <summary>Listed without a path: the container gets a new one.</summary>
        public bool Creates(string type) => namespaces?.Any(n => n?.Type == type && string.IsNullOrEmpty(n.Path)) == true;
    }
}
