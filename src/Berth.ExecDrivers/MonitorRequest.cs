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

    public static MonitorRequest Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), DriverJsonContext.Default.MonitorRequest)
                ?? throw new ExecDriverException($"{path}: the monitor's request is null");
        }
        catch (JsonException e)
        {
            throw new ExecDriverException($"{path}: not a valid monitor request: {e.Message}");
        }
    }

    /// <summary>Written whole under a temporary name, then renamed into place.</summary>
    public void Save(string path) => AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(this, DriverJsonContext.Default.MonitorRequest));
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
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string temporary = $"{path}.{Environment.ProcessId}-{Random.Shared.Next():x8}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(content);
                file.Flush(flushToDisk: true);
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
