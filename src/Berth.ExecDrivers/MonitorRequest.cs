using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.ExecDrivers;

/// <summary>monitor.json: what berth-monitor runs and where it keeps things (docs/engine.md, "The monitor").</summary>
public sealed class MonitorRequest
{
    public required string Id { get; set; }
    public required string Bundle { get; set; }
    public required DriverSpec Driver { get; set; }
    public bool Terminal { get; set; }
    public bool OpenStdin { get; set; }
    public bool StdinOnce { get; set; }
    public LogSpec Log { get; set; } = new();
    public required string ExitFile { get; set; }
    public required string Socket { get; set; }
    public required string PidFile { get; set; }

    /// <summary>Where the monitor writes why it could not start the container: monitor.error beside the pid file.</summary>
    [JsonIgnore] public string ErrorFile => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(PidFile)!, "monitor.error");

    /// <summary>The listening socket on which a terminal container's pty master arrives: console.sock beside the control socket.</summary>
    [JsonIgnore] public string ConsoleSocket => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Socket)!, "console.sock");

    /// <summary>Reads monitor.json (as <see cref="Save"/> writes it).</summary>
    /// <exception cref="ExecDriverException">Not valid JSON, not the request's shape, or a required field missing.</exception>
    public static MonitorRequest Load(string path)
    {
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ExecDriverException($"{path}: not a valid monitor request: {e.Message}");
        }
    }

    /// <summary>
    /// The request, read with a Utf8JsonReader rather than the source-generated serializer: the monitor reads it once
    /// per process, and building the serializer's metadata for it cost ~0.9 ms of CPU on every `docker run` (perf, 30
    /// runs). Names are matched as the serializer matches them (exactly); unknown ones are skipped.
    /// </summary>
    public static MonitorRequest Parse(ReadOnlySpan<byte> json)
    {
        var r = new Utf8JsonReader(json);
        r.Read();
        StartObject(ref r, "$");
        string? id = null, bundle = null, exitFile = null, socket = null, pidFile = null;
        DriverSpec? driver = null;
        var log = new LogSpec();
        bool terminal = false, openStdin = false, stdinOnce = false;
        while (NextProperty(ref r) is { } name)
        {
            switch (name)
            {
                case "Id": id = Text(ref r, "Id"); break;
                case "Bundle": bundle = Text(ref r, "Bundle"); break;
                case "ExitFile": exitFile = Text(ref r, "ExitFile"); break;
                case "Socket": socket = Text(ref r, "Socket"); break;
                case "PidFile": pidFile = Text(ref r, "PidFile"); break;
                case "Terminal": terminal = Flag(ref r, "Terminal"); break;
                case "OpenStdin": openStdin = Flag(ref r, "OpenStdin"); break;
                case "StdinOnce": stdinOnce = Flag(ref r, "StdinOnce"); break;
                case "Driver": driver = ParseDriver(ref r); break;
                case "Log": log = ParseLog(ref r); break;
                default: r.Skip(); break;
            }
        }
        return new MonitorRequest
        {
            Id = id ?? throw Missing("Id"),
            Bundle = bundle ?? throw Missing("Bundle"),
            Driver = driver ?? throw Missing("Driver"),
            Terminal = terminal,
            OpenStdin = openStdin,
            StdinOnce = stdinOnce,
            Log = log,
            ExitFile = exitFile ?? throw Missing("ExitFile"),
            Socket = socket ?? throw Missing("Socket"),
            PidFile = pidFile ?? throw Missing("PidFile"),
        };
    }

    static DriverSpec ParseDriver(ref Utf8JsonReader r)
    {
        StartObject(ref r, "$.Driver");
        string? name = null, path = null, root = null;
        while (NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "Name": name = Text(ref r, "Driver.Name"); break;
                case "Path": path = Text(ref r, "Driver.Path"); break;
                case "Root": root = Text(ref r, "Driver.Root"); break;
                default: r.Skip(); break;
            }
        }
        return new DriverSpec { Name = name ?? throw Missing("Driver.Name"), Path = path, Root = root ?? throw Missing("Driver.Root") };
    }

    static LogSpec ParseLog(ref Utf8JsonReader r)
    {
        var log = new LogSpec();
        StartObject(ref r, "$.Log");
        while (NextProperty(ref r) is { } property)
        {
            switch (property)
            {
                case "Driver": log.Driver = Text(ref r, "Log.Driver") ?? throw Missing("Log.Driver"); break;
                case "Path": log.Path = Text(ref r, "Log.Path"); break;
                case "MaxSize": log.MaxSize = Number(ref r, "Log.MaxSize", long.MaxValue); break;
                case "MaxFile": log.MaxFile = (int)Number(ref r, "Log.MaxFile", int.MaxValue); break;
                default: r.Skip(); break;
            }
        }
        return log;
    }

    /// <summary>The reader must be on the start of an object.</summary>
    static void StartObject(ref Utf8JsonReader r, string where)
    {
        if (r.TokenType != JsonTokenType.StartObject) throw new JsonException($"{where} is not a JSON object");
    }

    /// <summary>The next property's name, with the reader on its value; null at the object's end.</summary>
    static string? NextProperty(ref Utf8JsonReader r)
    {
        if (!r.Read() || r.TokenType == JsonTokenType.EndObject) return null;
        string name = r.GetString()!;
        if (!r.Read()) throw new JsonException($"no value after \"{name}\"");
        return name;
    }

    static string? Text(ref Utf8JsonReader r, string field) =>
        r.TokenType is JsonTokenType.String or JsonTokenType.Null ? r.GetString() : throw WrongType(field, "a string");

    static bool Flag(ref Utf8JsonReader r, string field) =>
        r.TokenType is JsonTokenType.True or JsonTokenType.False ? r.GetBoolean() : throw WrongType(field, "true or false");

    static long Number(ref Utf8JsonReader r, string field, long max) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt64(out long n) && n >= 0 && n <= max ? n : throw WrongType(field, $"a whole number from 0 to {max}");

    static JsonException Missing(string field) => new($"$.{field} is required");

    static JsonException WrongType(string field, string expected) => new($"$.{field} must be {expected}");

    /// <summary>Written whole under a temporary name, then renamed into place (not synced: it lives in the exec root).</summary>
    public void Save(string path) => AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(this, DriverJsonContext.Default.MonitorRequest), durable: false);
}

/// <summary>Which exec driver: "berth" (in-process, Root = its state root), or an OCI binary at Path with --root Root.</summary>
public sealed class DriverSpec
{
    public required string Name { get; set; }
    public string? Path { get; set; }
    public required string Root { get; set; }

    public IExecDriver Open(Action<string>? warn = null) => Path is null
        ? (Name == "berth" ? new InProcessDriver(Root, warn) : throw new ExecDriverException($"exec driver {Name}: no Path to its binary, and only \"berth\" runs in-process"))
        : new OciBinaryDriver(Name, Path, Root);
}

public sealed record LogSpec
{
    /// <summary>"json-file" or "none".</summary>
    public string Driver { get; set; } = "json-file";
    public string? Path { get; set; }
    /// <summary>Bytes; 0 for no rotation.</summary>
    public long MaxSize { get; set; }
    public int MaxFile { get; set; } = 1;
}

/// <summary>exit.json: how the container's init ended.</summary>
public sealed class ExitRecord
{
    public int ExitCode { get; set; }
    public string FinishedAt { get; set; } = "";
    public bool OOMKilled { get; set; }
    public string Error { get; set; } = "";

    public static ExitRecord? TryLoad(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), DriverJsonContext.Default.ExitRecord) : null;
}

/// <summary>One request line on monitor.sock.</summary>
public sealed class ControlRequest
{
    public required string Op { get; set; }
    public bool? Stdin { get; set; }
    public bool? Stdout { get; set; }
    public bool? Stderr { get; set; }
    public int? Width { get; set; }
    public int? Height { get; set; }
    public int? Pid { get; set; }
    public bool? Tty { get; set; }
    /// <summary>exec: the OCI process, in config.json's own spelling.</summary>
    public JsonElement? Process { get; set; }
}

/// <summary>One reply line on monitor.sock.</summary>
public sealed class ControlReply
{
    public int? Pid { get; set; }
    public bool? Running { get; set; }
    public int? ExitCode { get; set; }
    public string? FinishedAt { get; set; }
    public string? Error { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MonitorRequest))]
[JsonSerializable(typeof(ExitRecord))]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlReply))]
[JsonSerializable(typeof(RuntimeLogEntry))]
[JsonSerializable(typeof(List<int>))]
public sealed partial class DriverJsonContext : JsonSerializerContext;

/// <summary>A file replaced whole: written under a temporary name in its directory, flushed, renamed over the target.</summary>
public static class AtomicFile
{
    /// <param name="durable">fsync before the rename. Files that describe live processes (the exec root's
    /// monitor.json, pid and error files) skip it: a crash of the machine ends those processes too, and each fsync
    /// cost ~1 ms on docker run's path (ext4).</param>
    public static void Write(string path, ReadOnlySpan<byte> content, bool durable = true)
    {
        string temporary = $"{path}.{Environment.ProcessId}-{Random.Shared.Next():x8}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(content);
                file.Flush(flushToDisk: durable);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
