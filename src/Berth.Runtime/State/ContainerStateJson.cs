using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Berth.Oci;

namespace Berth.Runtime.State;

/// <summary>
/// state.json, written and read by hand with Utf8JsonWriter/Utf8JsonReader in the shape System.Text.Json's
/// serializer gave it (camelCase, nulls left out), so that files written before still read. By hand because every
/// command reads or writes it: the serializer's metadata for these types, built on first use with AOT reflection
/// (converters, property lists, attribute scans), was most of what the serializer cost a `run`. Written without
/// Utf8JsonWriter too (<see cref="StateJsonText"/>). A test compares both ways with the serializer.
/// </summary>
internal static class ContainerStateJson
{
    public static byte[] Write(ContainerState s)
    {
        var w = new StateJsonText();
        w.StartObject();
        w.Name("id").String(s.Id);
        w.Name("initPid").Number(s.InitPid);
        w.Name("initStartTime").Number(s.InitStartTime);
        if (s.Ready is { } ready) w.Name("ready").Boolean(ready);
        w.Name("bundle").String(s.Bundle);
        w.Name("rootfs").String(s.Rootfs);
        w.Name("created").Date(s.Created);
        if (s.Owner is not null) w.Name("owner").String(s.Owner);
        w.Name("cgroupPaths");
        WriteMap(w, s.CgroupPaths);
        w.Name("createdCgroups");
        WriteStrings(w, s.CreatedCgroups);
        if (s.Annotations is not null)
        {
            w.Name("annotations");
            WriteMap(w, s.Annotations);
        }
        if (s.Hooks is { } hooks)
        {
            w.Name("hooks");
            w.StartObject();
            WriteHooks(w, "prestart", hooks.Prestart);
            WriteHooks(w, "createRuntime", hooks.CreateRuntime);
            WriteHooks(w, "createContainer", hooks.CreateContainer);
            WriteHooks(w, "startContainer", hooks.StartContainer);
            WriteHooks(w, "poststart", hooks.Poststart);
            WriteHooks(w, "poststop", hooks.Poststop);
            w.EndObject();
        }
        w.EndObject();
        return w.ToUtf8();
    }

    static void WriteMap(StateJsonText w, Dictionary<string, string> map)
    {
        w.StartObject();
        foreach (var (key, value) in map) w.Name(key).String(value);
        w.EndObject();
    }

    static void WriteStrings(StateJsonText w, List<string> items)
    {
        w.StartArray();
        foreach (var item in items) w.String(item);
        w.EndArray();
    }

    static void WriteHooks(StateJsonText w, string name, List<Hook>? hooks)
    {
        if (hooks is null) return;
        w.Name(name);
        w.StartArray();
        foreach (var hook in hooks)
        {
            w.StartObject();
            w.Name("path").String(hook.Path);
            if (hook.Args is not null) { w.Name("args"); WriteStrings(w, hook.Args); }
            if (hook.Env is not null) { w.Name("env"); WriteStrings(w, hook.Env); }
            if (hook.Timeout is { } timeout) w.Name("timeout").Number(timeout);
            w.EndObject();
        }
        w.EndArray();
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

/// <summary>
/// Compact JSON text as Utf8JsonWriter writes it with its default escaping. A string of printable ASCII that this
/// escaping leaves alone (most of a state: ids, paths, numbers as text) is copied as it is; any other goes through
/// <see cref="JsonEncodedText"/>, the writer's own escaping. Utf8JsonWriter asked JavaScriptEncoder.Default about
/// every string, and that encoder's construction on the first state write was 0.8% of the CLI's samples in a `run`.
/// </summary>
internal sealed class StateJsonText
{
    readonly StringBuilder _text = new(512);
    bool _separate; // a value ended at this level: the next one needs a comma

    public StateJsonText Name(string name)
    {
        Value();
        Quoted(name);
        _text.Append(':');
        _separate = false;
        return this;
    }

    public void String(string? value)
    {
        Value();
        if (value is null) _text.Append("null");
        else Quoted(value);
        _separate = true;
    }

    public void Number(long value) => Literal(value.ToString(CultureInfo.InvariantCulture));
    public void Number(ulong value) => Literal(value.ToString(CultureInfo.InvariantCulture));
    public void Boolean(bool value) => Literal(value ? "true" : "false");

    /// <summary>ISO 8601 as Utf8JsonWriter writes a DateTimeOffset: the round-trip form, with the fraction's trailing
    /// zeros dropped, and the fraction with them when it is zero.</summary>
    public void Date(DateTimeOffset value)
    {
        string o = value.ToString("O", CultureInfo.InvariantCulture); // yyyy-MM-ddTHH:mm:ss.fffffff+hh:mm
        const int Dot = 19, Offset = 27;
        int last = Offset - 1;
        while (last > Dot && o[last] == '0') last--;
        Value();
        _text.Append('"').Append(o, 0, last == Dot ? Dot : last + 1).Append(o, Offset, o.Length - Offset).Append('"');
        _separate = true;
    }

    public void StartObject() => Start('{');
    public void EndObject() => End('}');
    public void StartArray() => Start('[');
    public void EndArray() => End(']');

    public byte[] ToUtf8() => Encoding.UTF8.GetBytes(_text.ToString());

    void Start(char bracket)
    {
        Value();
        _text.Append(bracket);
        _separate = false;
    }

    void End(char bracket)
    {
        _text.Append(bracket);
        _separate = true;
    }

    void Literal(string text)
    {
        Value();
        _text.Append(text);
        _separate = true;
    }

    void Value()
    {
        if (_separate) _text.Append(',');
    }

    void Quoted(string value)
    {
        _text.Append('"');
        if (value.AsSpan().ContainsAnyExcept(Plain)) _text.Append(JsonEncodedText.Encode(value).ToString());
        else _text.Append(value);
        _text.Append('"');
    }

    /// <summary>What the default escaping leaves as it is: printable ASCII but " \ ' &amp; + &lt; &gt; `.</summary>
    static readonly SearchValues<char> Plain = SearchValues.Create(
        " !#$%()*,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~");
}
