using System.Text.Json;
using Berth.Oci;

namespace Berth.Runtime.State;

/// <summary>
/// state.json, written and read by hand with Utf8JsonWriter/Utf8JsonReader in the shape System.Text.Json's
/// serializer gave it (camelCase, nulls left out), so that files written before still read. By hand because every
/// command reads or writes it: the serializer's metadata for these types, built on first use with AOT reflection
/// (converters, property lists, attribute scans), was most of what the serializer cost a `run`. A test compares
/// both ways with the serializer.
/// </summary>
internal static class ContainerStateJson
{
    public static byte[] Write(ContainerState s)
    {
        var buffer = new MemoryStream(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id"u8, s.Id);
            w.WriteNumber("initPid"u8, s.InitPid);
            w.WriteNumber("initStartTime"u8, s.InitStartTime);
            if (s.Ready is { } ready) w.WriteBoolean("ready"u8, ready);
            w.WriteString("bundle"u8, s.Bundle);
            w.WriteString("rootfs"u8, s.Rootfs);
            w.WriteString("created"u8, s.Created);
            if (s.Owner is not null) w.WriteString("owner"u8, s.Owner);
            w.WritePropertyName("cgroupPaths"u8);
            WriteMap(w, s.CgroupPaths);
            w.WritePropertyName("createdCgroups"u8);
            WriteStrings(w, s.CreatedCgroups);
            if (s.Annotations is not null)
            {
                w.WritePropertyName("annotations"u8);
                WriteMap(w, s.Annotations);
            }
            if (s.Hooks is { } hooks)
            {
                w.WritePropertyName("hooks"u8);
                w.WriteStartObject();
                WriteHooks(w, "prestart"u8, hooks.Prestart);
                WriteHooks(w, "createRuntime"u8, hooks.CreateRuntime);
                WriteHooks(w, "createContainer"u8, hooks.CreateContainer);
                WriteHooks(w, "startContainer"u8, hooks.StartContainer);
                WriteHooks(w, "poststart"u8, hooks.Poststart);
                WriteHooks(w, "poststop"u8, hooks.Poststop);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    static void WriteMap(Utf8JsonWriter w, Dictionary<string, string> map)
    {
        w.WriteStartObject();
        foreach (var (key, value) in map) w.WriteString(key, value);
        w.WriteEndObject();
    }

    static void WriteStrings(Utf8JsonWriter w, List<string> items)
    {
        w.WriteStartArray();
        foreach (var item in items) w.WriteStringValue(item);
        w.WriteEndArray();
    }

    static void WriteHooks(Utf8JsonWriter w, ReadOnlySpan<byte> name, List<Hook>? hooks)
    {
        if (hooks is null) return;
        w.WritePropertyName(name);
        w.WriteStartArray();
        foreach (var hook in hooks)
        {
            w.WriteStartObject();
            w.WriteString("path"u8, hook.Path);
            if (hook.Args is not null) { w.WritePropertyName("args"u8); WriteStrings(w, hook.Args); }
            if (hook.Env is not null) { w.WritePropertyName("env"u8); WriteStrings(w, hook.Env); }
            if (hook.Timeout is { } timeout) w.WriteNumber("timeout"u8, timeout);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The state in <paramref name="json"/>; a <see cref="JsonException"/> says what is wrong with it.</summary>
    public static ContainerState Read(byte[] json)
    {
        try
        {
            return ReadState(json);
        }
        catch (InvalidOperationException e)
        {
            // A string escape that is no valid UTF-16 (a lone surrogate): the serializer called that a JsonException too.
            throw new JsonException(e.Message, e);
        }
    }

    static ContainerState ReadState(byte[] json)
    {
        var r = new Utf8JsonReader(json);
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject) throw new JsonException("not a JSON object");
        string? id = null, bundle = null, rootfs = null, owner = null;
        int initPid = 0;
        ulong initStartTime = 0;
        bool? ready = null;
        DateTimeOffset created = default;
        Dictionary<string, string> cgroupPaths = [];
        List<string> createdCgroups = [];
        Dictionary<string, string>? annotations = null;
        Hooks? hooks = null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            string name = r.GetString()!;
            r.Read();
            switch (name)
            {
                case "id": id = String(ref r, name); break;
                case "initPid": initPid = r.TokenType == JsonTokenType.Number && r.TryGetInt32(out int pid) ? pid : throw Wrong(name); break;
                case "initStartTime": initStartTime = r.TokenType == JsonTokenType.Number && r.TryGetUInt64(out ulong t) ? t : throw Wrong(name); break;
                case "ready": ready = r.TokenType switch { JsonTokenType.True => true, JsonTokenType.False => false, JsonTokenType.Null => null, _ => throw Wrong(name) }; break;
                case "bundle": bundle = String(ref r, name); break;
                case "rootfs": rootfs = String(ref r, name); break;
                case "created": created = r.TokenType == JsonTokenType.String && r.TryGetDateTimeOffset(out var c) ? c : throw Wrong(name); break;
                case "owner": owner = String(ref r, name); break;
                case "cgroupPaths": cgroupPaths = Map(ref r, name) ?? []; break;
                case "createdCgroups": createdCgroups = Strings(ref r, name) ?? []; break;
                case "annotations": annotations = Map(ref r, name); break;
                case "hooks": hooks = SpecJsonReader.ReadHooks(ref r); break;
                default: r.Skip(); break;
            }
        }
        while (r.Read()) { } // nothing but whitespace may follow
        return new ContainerState
        {
            Id = id ?? throw Missing("id"),
            Bundle = bundle ?? throw Missing("bundle"),
            Rootfs = rootfs ?? throw Missing("rootfs"),
            InitPid = initPid, InitStartTime = initStartTime, Ready = ready, Created = created, Owner = owner,
            CgroupPaths = cgroupPaths, CreatedCgroups = createdCgroups, Annotations = annotations, Hooks = hooks,
        };
    }

    static string? String(ref Utf8JsonReader r, string name) => r.TokenType switch
    {
        JsonTokenType.String => r.GetString(),
        JsonTokenType.Null => null,
        _ => throw Wrong(name),
    };

    static List<string>? Strings(ref Utf8JsonReader r, string name)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartArray) throw Wrong(name);
        List<string> items = [];
        while (r.Read() && r.TokenType != JsonTokenType.EndArray) items.Add(String(ref r, name)!);
        return items;
    }

    static Dictionary<string, string>? Map(ref Utf8JsonReader r, string name)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartObject) throw Wrong(name);
        Dictionary<string, string> map = [];
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            string key = r.GetString()!;
            r.Read();
            map[key] = String(ref r, name)!;
        }
        return map;
    }

    static JsonException Wrong(string name) => new($"{name} has the wrong type");
    static JsonException Missing(string name) => new($"{name} is missing");
}
