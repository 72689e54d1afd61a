using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Oci;

namespace Berth.Engine;

/// <summary>
/// A seccomp profile in Docker's format (the default one, and what --security-opt seccomp=&lt;file&gt; sends): the
/// OCI fields plus rules that apply only with some capabilities, on some architectures or from some kernel on.
/// </summary>
public sealed class SeccompProfile
{
    public string? DefaultAction { get; set; }
    public uint? DefaultErrnoRet { get; set; }
    public List<string>? Architectures { get; set; }
    public List<SeccompArchMap>? ArchMap { get; set; }
    public List<string>? Flags { get; set; }
    public string? ListenerPath { get; set; }
    public string? ListenerMetadata { get; set; }
    public List<SeccompRule>? Syscalls { get; set; }
}

/// <summary>An architecture and the ones its processes may also run as (x86-64: x86 and x32).</summary>
public sealed class SeccompArchMap
{
    public string Architecture { get; set; } = "";
    public List<string>? SubArchitectures { get; set; }
}

public sealed class SeccompRule
{
    public List<string>? Names { get; set; }
    /// <summary>The single-name form of old profiles.</summary>
    public string? Name { get; set; }
    public string Action { get; set; } = "";
    public uint? ErrnoRet { get; set; }
    public List<LinuxSeccompArg>? Args { get; set; }
    public string? Comment { get; set; }
    public SeccompCondition? Includes { get; set; }
    public SeccompCondition? Excludes { get; set; }
}

/// <summary>Includes: every listed capability present, the architecture listed, the kernel at least. Excludes: any of them.</summary>
public sealed class SeccompCondition
{
    public List<string>? Caps { get; set; }
    /// <summary>Go's architecture names (amd64, x32, x86, arm64, ...).</summary>
    public List<string>? Arches { get; set; }
    /// <summary>"major.minor".</summary>
    public string? MinKernel { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SeccompProfile))]
internal sealed partial class EngineJsonContext : JsonSerializerContext;

/// <summary>Docker's default profile (an embedded resource) and the resolution dockerd does before it writes a spec.</summary>
public static class DockerSeccomp
{
    static readonly Lazy<byte[]> DefaultJson = new(() =>
    {
        using var stream = typeof(DockerSeccomp).Assembly.GetManifestResourceStream("Berth.Engine.seccomp-default.json")
            ?? throw new InvalidOperationException("Berth.Engine was built without its seccomp-default.json resource.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>Docker's default profile, unresolved (a fresh copy each time: callers may change it).</summary>
    public static SeccompProfile Default() =>
        JsonSerializer.Deserialize(DefaultJson.Value, EngineJsonContext.Default.SeccompProfile)!;

    /// <summary>A profile a client sent (SecurityOpt "seccomp=&lt;json&gt;").</summary>
    public static SeccompProfile Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, EngineJsonContext.Default.SeccompProfile)
                ?? throw new ContainerConfigException("Decoding seccomp profile failed: the profile is null");
        }
        catch (JsonException e)
        {
            throw new ContainerConfigException($"Decoding seccomp profile failed: {e.Message}");
        }
    }

    /// <summary>Go's architecture names → libseccomp's, for archMap.</summary>
    static readonly Dictionary<string, string> NativeArch = new(StringComparer.Ordinal)
    {
        ["amd64"] = "SCMP_ARCH_X86_64", ["386"] = "SCMP_ARCH_X86", ["arm64"] = "SCMP_ARCH_AARCH64",
        ["arm"] = "SCMP_ARCH_ARM", ["ppc64le"] = "SCMP_ARCH_PPC64LE", ["s390x"] = "SCMP_ARCH_S390X",
        ["riscv64"] = "SCMP_ARCH_RISCV64",
    };

    /// <summary>
    /// The profile as the spec carries it: the architectures of the host's entry in archMap, and only the rules
    /// whose conditions hold for this process's bounding set, the host's architecture and kernel. Rule order and
    /// names are kept; conditions and comments are dropped.
    /// </summary>
    public static LinuxSeccomp Resolve(SeccompProfile profile, IReadOnlyCollection<string> boundingCaps, string architecture, string kernelRelease)
    {
        if (profile.Architectures is { Count: > 0 } && profile.ArchMap is { Count: > 0 })
            throw new ContainerConfigException("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
        var kernel = KernelVersion.Parse(kernelRelease);
        List<string>? arches = profile.Architectures is null ? null : [.. profile.Architectures];
        if (profile.ArchMap is { Count: > 0 } && NativeArch.TryGetValue(architecture, out var native))
        {
            arches = [];
            foreach (var map in profile.ArchMap.Where(m => m.Architecture == native))
                arches.AddRange([map.Architecture, .. map.SubArchitectures ?? []]);
        }

        var rules = new List<LinuxSyscall>();
        foreach (var rule in profile.Syscalls ?? [])
        {
            if (rule.Name is { Length: > 0 } && rule.Names is { Count: > 0 })
                throw new ContainerConfigException("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
            if (rule.Name is not { Length: > 0 } && rule.Names is not { Count: > 0 })
                throw new ContainerConfigException($"a rule of the seccomp profile names no syscall (action {rule.Action})");
            if (Excluded(rule.Excludes, boundingCaps, architecture, kernel) || !Included(rule.Includes, boundingCaps, architecture, kernel))
                continue;
            rules.Add(new LinuxSyscall
            {
                Names = rule.Names is { Count: > 0 } ? [.. rule.Names] : [rule.Name!],
                Action = rule.Action,
                ErrnoRet = rule.ErrnoRet,
                Args = rule.Args?.Select(a => new LinuxSeccompArg { Index = a.Index, Value = a.Value, ValueTwo = a.ValueTwo, Op = a.Op }).ToList(),
            });
        }
        return new LinuxSeccomp
        {
            DefaultAction = profile.DefaultAction,
            DefaultErrnoRet = profile.DefaultErrnoRet,
            Architectures = arches,
            Flags = profile.Flags is null ? null : [.. profile.Flags],
            ListenerPath = profile.ListenerPath,
            ListenerMetadata = profile.ListenerMetadata,
            Syscalls = rules,
        };
    }

    static bool Included(SeccompCondition? c, IReadOnlyCollection<string> caps, string arch, KernelVersion kernel) =>
        c is null
        || ((c.Caps ?? []).All(caps.Contains)
            && (c.Arches is not { Count: > 0 } || c.Arches.Contains(arch))
            && (c.MinKernel is not { Length: > 0 } || kernel >= KernelVersion.Parse(c.MinKernel)));

    static bool Excluded(SeccompCondition? c, IReadOnlyCollection<string> caps, string arch, KernelVersion kernel) =>
        c is not null
        && ((c.Caps ?? []).Any(caps.Contains)
            || (c.Arches ?? []).Contains(arch)
            || (c.MinKernel is { Length: > 0 } && kernel >= KernelVersion.Parse(c.MinKernel)));
}

/// <summary>A kernel's major.minor.patch, from `uname -r` ("6.18.44-fc-v1272") or a profile's "4.8".</summary>
internal readonly record struct KernelVersion(int Major, int Minor, int Patch) : IComparable<KernelVersion>
{
    public static KernelVersion Parse(string release)
    {
        var parts = new int[3];
        var fields = release.Split('.', 3);
        for (var i = 0; i < fields.Length; i++)
        {
            var digits = new string(fields[i].TakeWhile(char.IsAsciiDigit).ToArray());
            if (digits.Length == 0 || !int.TryParse(digits, out parts[i]))
            {
                if (i < 2) throw new ContainerConfigException($"invalid kernel version \"{release}\"");
                break;
            }
        }
        return new KernelVersion(parts[0], parts[1], parts[2]);
    }

    public int CompareTo(KernelVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor != other.Minor ? Minor.CompareTo(other.Minor) : Patch.CompareTo(other.Patch);

    public static bool operator >=(KernelVersion a, KernelVersion b) => a.CompareTo(b) >= 0;
    public static bool operator <=(KernelVersion a, KernelVersion b) => a.CompareTo(b) <= 0;
}
