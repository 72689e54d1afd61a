using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>One config.json the fuzzer tries: the text, and how it was made (to read in a failure).</summary>
public sealed record FuzzCase(string How, string Text)
{
    public override string ToString() => How;
}

/// <summary>
/// FsCheck generators of config.json: a valid base (runc's default spec as `spec` writes it, with more sections
/// filled in so that mutations reach them) changed in one to three places, field by field (wrong types, huge and
/// negative numbers, unknown enum strings, hostile paths, long strings, duplicate entries, missing fields, unknown
/// keys), and some fully random documents or damaged texts.
/// What a mutation may not do: point root.path at a host directory, or make any propagation shared, which would let a
/// container's mounts reach the host; the fuzzer tests the runtime's answers, not the host's luck.
/// </summary>
public static class ConfigMutations
{
    static readonly string[] HostileStrings =
    [
        "", " ", ".", "..", "../../etc", "/../../../../etc/passwd", "relative/path", "/proc/self/fd/3", "/proc/self/exe",
        "/dev/null", "/does/not/exist", "//double//slashes//", "/trailing/", "a\u0000b", "new\nline", "tab\there",
        "ünïcødé-名前", "%s%n%x", "$(true)", "-1", "0", "true", "null", "{}", "bogus", "SCMP_ACT_BOGUS", "RLIMIT_BOGUS",
        "CAP_BOGUS", "pid2", "rw,bogus=1", "mode=99999", "size=-1", "bind", "rbind", "tmpfs", "/bin", "/bin/busybox",
        "/proc", "/sys/fs/cgroup", new string('a', 300), "/" + string.Join('/', Enumerable.Repeat("d", 600)),
        new string('x', 70_000),
    ];

    static readonly string[] HostileNumbers =
    [
        "0", "-1", "1", "2", "7", "1024", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295",
        "4294967296", "9007199254740993", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "18446744073709551615", "18446744073709551616", "1e30", "-1e30", "1.5", "-0.0", "1e-10",
    ];

    // Printable, without upper case: nothing the fuzzer makes can pass for a resource key in an error that quotes it.
    const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789/._-:=, é";

    /// <summary>The base spec: `spec`'s output, made to run /bin/true without a terminal in the test's bundle.</summary>
    public static JsonObject Base(string specJson)
    {
        var spec = JsonNode.Parse(specJson)!.AsObject();
        var process = spec["process"]!.AsObject();
        process["terminal"] = false;
        process["args"] = new JsonArray("true");
        process["user"]!["additionalGids"] = new JsonArray(1, 2);
        process["user"]!["umask"] = 18;
        process["oomScoreAdj"] = 0;
        process["rlimits"]!.AsArray().Add(new JsonObject { ["type"] = "RLIMIT_NPROC", ["hard"] = 1024, ["soft"] = 1024 });
        var linux = spec["linux"]!.AsObject();
        var resources = linux["resources"]!.AsObject();
        // Most of the fields the converter checks (CheckedResources), so that mutations reach them.
        resources["memory"] = new JsonObject { ["limit"] = 256L << 20, ["swap"] = 512L << 20, ["reservation"] = 128L << 20 };
        resources["cpu"] = new JsonObject { ["shares"] = 512, ["quota"] = 50000, ["period"] = 100000, ["cpus"] = "0", ["mems"] = "0" };
        resources["pids"] = new JsonObject { ["limit"] = 100 };
        linux["sysctl"] = new JsonObject { ["net.ipv4.ip_forward"] = "0" };
        linux["seccomp"] = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["architectures"] = new JsonArray("SCMP_ARCH_X86_64"),
            ["syscalls"] = new JsonArray(new JsonObject { ["names"] = new JsonArray("mkdir"), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = 1 }),
        };
        spec["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = "/mnt",
            ["type"] = "tmpfs",
            ["source"] = "tmpfs",
            ["options"] = new JsonArray("nosuid", "size=1m"),
        });
        spec["annotations"] = new JsonObject { ["org.example.fuzz"] = "base" };
        spec["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/true", ["args"] = new JsonArray("true"), ["timeout"] = 10 }),
            ["poststop"] = new JsonArray(new JsonObject { ["path"] = "/bin/true" }),
        };
        return spec;
    }

    /// <summary>The base in a user namespace of its own, container root mapped to host uid and gid 100000.</summary>
    public static JsonObject WithUserNamespace(JsonObject baseSpec)
    {
        var spec = baseSpec.DeepClone().AsObject();
        var linux = spec["linux"]!.AsObject();
        linux["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" });
        linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
        linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
        return spec;
    }

    /// <summary>Cases made from <paramref name="baseSpec"/>, and from it in a user namespace (a fifth of the mutated ones).</summary>
    public static Gen<FuzzCase> Cases(JsonObject baseSpec)
    {
        var inUserNamespace = WithUserNamespace(baseSpec);
        return Gen.Frequency(
            (68, Mutated(baseSpec)),
            (17, Mutated(inUserNamespace).Select(c => c with { How = "in a user namespace: " + c.How })),
            (8, RandomValue(3).Select(v => new FuzzCase("a random JSON document", v?.ToJsonString() ?? "null"))),
            (7, DamagedText(baseSpec)));
    }

    enum Kind { Replace, Remove, Duplicate, AddUnknownKey }

    sealed record Mutation(Kind Kind, int Selector, JsonNode? Value);

    static Gen<FuzzCase> Mutated(JsonObject baseSpec) =>
        from count in Gen.Choose(1, 3)
        from mutations in Gen.ListOf(AMutation(), count)
        select Apply(baseSpec, mutations);

    static Gen<Mutation> AMutation() =>
        from kind in Gen.Frequency((6, Gen.Constant(Kind.Replace)), (2, Gen.Constant(Kind.Remove)), (1, Gen.Constant(Kind.Duplicate)), (1, Gen.Constant(Kind.AddUnknownKey)))
        from selector in Gen.Choose(0, int.MaxValue)
        from value in RandomValue(2)
        select new Mutation(kind, selector, value);

    static FuzzCase Apply(JsonObject baseSpec, IEnumerable<Mutation> mutations)
    {
        var spec = baseSpec.DeepClone().AsObject();
        var how = new List<string>();
        foreach (var m in mutations)
            how.Add(Apply(spec, m));
        return new FuzzCase(string.Join("; ", how), spec.ToJsonString());
    }

    static string Apply(JsonObject spec, Mutation m)
    {
        var nodes = Descendants(spec).ToList();
        var (path, node) = nodes[m.Selector % nodes.Count];
        switch (m.Kind)
        {
            case Kind.Replace:
                var value = Guard(path, m.Value);
                Replace(node, value);
                return $"{path} = {Show(value)}";
            case Kind.Remove:
                if (node.Parent is JsonObject owner)
                {
                    owner.Remove(node.GetPropertyName());
                    return $"removed {path}";
                }
                if (node.Parent is JsonArray list)
                {
                    list.Remove(node);
                    return $"removed {path}";
                }
                return "nothing removed";
            case Kind.Duplicate:
                if (node.Parent is JsonArray array)
                {
                    array.Add(node.DeepClone());
                    return $"duplicated {path}";
                }
                if (node is JsonArray { Count: > 0 } items)
                {
                    items.Add(items[0]!.DeepClone());
                    return $"duplicated {path}[0]";
                }
                return "nothing duplicated";
            default:
                var target = node as JsonObject ?? node.Parent as JsonObject ?? spec;
                string key = "fuzz" + (m.Selector % 1000);
                target[key] = Guard(key, m.Value);
                return $"added {target.GetPath()}.{key} = {Show(target[key])}";
        }
    }

    /// <summary>What a mutation must not produce at a path (see the class summary): those become a plain "bogus".</summary>
    static JsonNode? Guard(string path, JsonNode? value)
    {
        bool rootPath = path is "$.root.path" or "$.root" or "$";
        bool propagation = path.Contains("ropagation", StringComparison.Ordinal) || path.Contains("options", StringComparison.Ordinal);
        if (value is JsonValue v && v.TryGetValue(out string? s))
        {
            if (rootPath && (s.StartsWith('/') || s.Contains("..", StringComparison.Ordinal))) return JsonValue.Create("bogus");
            if (propagation && s.Contains("shared", StringComparison.Ordinal)) return JsonValue.Create("bogus");
        }
        if (rootPath && value is JsonObject o && o["path"] is JsonValue p && p.TryGetValue(out string? inner) && inner.Length > 0)
            return new JsonObject { ["path"] = "bogus" };
        return value;
    }

    static void Replace(JsonNode node, JsonNode? value)
    {
        switch (node.Parent)
        {
            case JsonObject owner:
                owner[node.GetPropertyName()] = value;
                break;
            case JsonArray list:
                list[node.GetElementIndex()] = value;
                break;
        }
    }

    /// <summary>Every node below the root with its JSON path, parents before children.</summary>
    static IEnumerable<(string Path, JsonNode Node)> Descendants(JsonNode root)
    {
        var pending = new Stack<JsonNode>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (node != root) yield return (node.GetPath(), node);
            IEnumerable<JsonNode?> children = node switch
            {
                JsonObject o => o.Select(p => p.Value),
                JsonArray a => a,
                _ => [],
            };
            foreach (var child in children.Reverse())
                if (child is not null) pending.Push(child);
        }
    }

    /// <summary>A hostile value: known troublemakers, random strings and numbers, or a small random tree.</summary>
    static Gen<JsonNode?> RandomValue(int depth)
    {
        var choices = new List<(int, Gen<JsonNode?>)>
        {
            (5, Gen.Elements(HostileStrings).Select(s => (JsonNode?)JsonValue.Create(s))),
            (4, Gen.Elements(HostileNumbers).Select(n => JsonNode.Parse(n))),
            (2, RandomString.Select(s => (JsonNode?)JsonValue.Create(s))),
            (1, Gen.Elements<JsonNode?>(JsonValue.Create(true), JsonValue.Create(false), null)),
        };
        if (depth > 0)
        {
            choices.Add((1, Gen.ListOf(RandomValue(depth - 1), 3).Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray()))));
            choices.Add((1, Gen.ListOf(Gen.Zip(RandomString, RandomValue(depth - 1)), 3).Select(pairs =>
            {
                var o = new JsonObject();
                foreach (var (key, value) in pairs) o[key] = value?.DeepClone();
                return (JsonNode?)o;
            })));
        }
        return Gen.Frequency(choices);
    }

    static Gen<string> RandomString =>
        from length in Gen.Choose(0, 24)
        from chars in Gen.ArrayOf(Gen.Elements(Alphabet.ToCharArray()), length)
        select new string(chars);

    /// <summary>The base's text cut short, with a byte changed, or with invalid UTF-8, a BOM or deep nesting.</summary>
    static Gen<FuzzCase> DamagedText(JsonObject baseSpec)
    {
        string text = baseSpec.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        return Gen.OneOf(
            Gen.Choose(0, text.Length - 1).Select(n => new FuzzCase($"cut after {n} characters", text[..n])),
            Gen.Zip(Gen.Choose(0, text.Length - 1), Gen.Elements("\"", "{", "]", ",", "\\", "\u0001", "1e999"))
                .Select(p => new FuzzCase($"'{p.Item2}' at {p.Item1}", text[..p.Item1] + p.Item2 + text[(p.Item1 + 1)..])),
            Gen.Constant(new FuzzCase("invalid UTF-8 in a string", text.Replace("\"berth\"", "\"\uFFFD\uFFFE\"", StringComparison.Ordinal))),
            Gen.Constant(new FuzzCase("a byte order mark", "\uFEFF" + text)),
            Gen.Choose(1, 3).Select(n => new FuzzCase($"nested {n * 100} deep", text.Replace("\"base\"", new string('[', n * 100) + new string(']', n * 100), StringComparison.Ordinal))));
    }

    static string Show(JsonNode? value)
    {
        string text = value?.ToJsonString() ?? "null";
        return text.Length > 80 ? $"{text[..60]}... ({text.Length} characters)" : text;
    }

    /// <summary>Bytes of <paramref name="text"/> as UTF-8; the invalid-UTF-8 case swaps its marker for raw bytes.</summary>
    public static byte[] Bytes(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        byte[] marker = Encoding.UTF8.GetBytes("\uFFFD\uFFFE");
        int at = bytes.AsSpan().IndexOf(marker);
        if (at < 0) return bytes;
        return [.. bytes[..at], 0xC3, 0x28, 0xFF, .. bytes[(at + marker.Length)..]];
    }
}
