using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Berth.ExecDrivers;

/// <summary>
/// dockerd's json-file log: one object per line, <c>{"log":"hi\n","stream":"stdout","time":"RFC3339Nano UTC"}</c>.
/// Output is cut into lines per stream; a line longer than 16 KiB is written in 16 KiB pieces without a newline, as
/// dockerd's copier does, and what is left at EOF (<see cref="Flush"/>) without one. With a MaxSize, once the file has
/// reached it the next entry first rotates: <c>log</c> to <c>log.1</c>, <c>log.1</c> to <c>log.2</c> ... up to
/// MaxFile-1 (with MaxFile 1 the file is truncated). Each entry is one write(2), so a follower never sees half a line.
/// Thread-safe: stdout's and stderr's pumps share one writer.
/// </summary>
public sealed class JsonFileLogWriter : IDisposable
{
    public const int MaxLine = 16 * 1024;

    static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    readonly string _path;
    readonly long _maxSize;
    readonly int _maxFile;
    readonly Func<DateTime> _clock;
    readonly Dictionary<string, List<byte>> _pending = [];
    readonly Lock _lock = new();
    readonly System.Buffers.ArrayBufferWriter<byte> _entry = new(1024);
    FileStream _file;

    public JsonFileLogWriter(string path, long maxSize = 0, int maxFile = 1, Func<DateTime>? clock = null)
    {
        if (maxFile < 1) throw new ArgumentException($"log max-file {maxFile}: must be at least 1");
        _path = path;
        _maxSize = maxSize;
        _maxFile = maxFile;
        _clock = clock ?? (() => DateTime.UtcNow);
        _file = Open(FileMode.Append);
    }

    FileStream Open(FileMode mode) => new(_path, new FileStreamOptions
    {
        Mode = mode,
        Access = FileAccess.Write,
        Share = FileShare.ReadWrite | FileShare.Delete,
        BufferSize = 0,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
    });

    /// <summary>Takes output of <paramref name="stream"/> ("stdout" or "stderr"); writes every whole line.</summary>
    public void Write(string stream, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (!_pending.TryGetValue(stream, out var pending)) _pending[stream] = pending = [];
            pending.AddRange(data);
            int start = 0;
            for (;;)
            {
                int left = pending.Count - start;
                int newline = pending.IndexOf((byte)'\n', start, Math.Min(left, MaxLine)) - start;
                if (newline >= 0) Emit(stream, pending, start, newline + 1);
                else if (left >= MaxLine) Emit(stream, pending, start, MaxLine);
                else break;
                start += newline >= 0 ? newline + 1 : MaxLine;
            }
            pending.RemoveRange(0, start);
        }
    }

    /// <summary>At the end of <paramref name="stream"/>: writes what is left of its last line.</summary>
    public void Flush(string stream)
    {
        lock (_lock)
        {
            if (!_pending.TryGetValue(stream, out var pending) || pending.Count == 0) return;
            Emit(stream, pending, 0, pending.Count);
            pending.Clear();
        }
    }

    void Emit(string stream, List<byte> pending, int start, int count)
    {
        var text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending).Slice(start, count));
        _entry.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_entry, Options))
        {
            json.WriteStartObject();
            json.WriteString("log", text);
            json.WriteString("stream", stream);
            json.WriteString("time", Timestamp(_clock()));
            json.WriteEndObject();
        }
        System.Buffers.BuffersExtensions.Write(_entry, "\n"u8);
        if (_maxSize > 0 && _file.Length >= _maxSize) Rotate();
        _file.Write(_entry.WrittenSpan);
    }

    /// <summary>RFC 3339 with nine fractional digits, UTC (dockerd's RFC3339NanoFixed).</summary>
    public static string Timestamp(DateTime time)
    {
        var utc = time.ToUniversalTime();
        return $"{utc:yyyy-MM-dd'T'HH:mm:ss}.{utc.Ticks % TimeSpan.TicksPerSecond * 100:D9}Z";
    }

    void Rotate()
    {
        _file.Dispose();
        if (_maxFile < 2)
        {
            _file = Open(FileMode.Create);
            return;
        }
        for (int i = _maxFile - 1; i > 1; i--)
            if (File.Exists($"{_path}.{i - 1}")) File.Move($"{_path}.{i - 1}", $"{_path}.{i}", overwrite: true);
        File.Move(_path, $"{_path}.1", overwrite: true);
        _file = Open(FileMode.Append);
    }

    public void Dispose()
    {
        lock (_lock) _file.Dispose();
    }
}
