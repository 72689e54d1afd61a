using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Berth.Engine.Logs;

/// <summary>
/// Reads dockerd's json-file logs: <c>&lt;id&gt;-json.log</c> and its rotations (<c>.1</c>, <c>.2</c>..., or
/// <c>.N.gz</c> with compress=true), oldest first, one JSON object a line. dockerd's semantics: <c>tail</c> counts
/// entries from the end before <c>since</c>/<c>until</c> filter them; since and until are inclusive; the read ends at
/// the first entry after until. A last line without its '\n' is a writer mid-write: it is left until it is complete.
/// A line that is not a log entry (a writer killed mid-line, then restarted) is skipped.
/// </summary>
public static class JsonFileLogReader
{
    /// <summary>How often follow looks for appended lines and rotation (a bounded poll keeps the engine syscall-free).</summary>
    static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>The log as it is now (Follow is ignored).</summary>
    public static IEnumerable<LogEntry> Read(string logPath, LogReadOptions options)
    {
        var plan = Plan(logPath, options.Tail);
        try
        {
            foreach (var (file, start) in plan)
            {
                file.Position = start;
                foreach (var entry in file.ReadEntries())
                {
                    if (IsAfterUntil(entry, options)) yield break;
                    if (!IsBeforeSince(entry, options)) yield return entry;
                }
            }
        }
        finally
        {
            foreach (var (file, _) in plan) file.Dispose();
        }
    }

    /// <summary>
    /// The log as it is now and, with Follow, what the writer appends (across rotations) until <paramref name="stopped"/>
    /// completes (the container exited: what was written by then is still read), until passes, or
    /// <paramref name="cancellation"/> is cancelled (the enumeration then ends without an exception).
    /// </summary>
    public static async IAsyncEnumerable<LogEntry> ReadAsync(string logPath, LogReadOptions options, Task stopped,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        if (!options.Follow)
        {
            foreach (var entry in Read(logPath, options)) yield return entry;
            yield break;
        }
        var plan = Plan(logPath, options.Tail);
        LogFileCursor? current = null;
        try
        {
            foreach (var (file, start) in plan)
            {
                file.Position = start;
                if (file.IsCurrent) current = file;
                else
                    foreach (var entry in file.ReadEntries())
                    {
                        if (IsAfterUntil(entry, options)) yield break;
                        if (!IsBeforeSince(entry, options)) yield return entry;
                    }
            }
            if (current is null)
            {
                current = LogFileCursor.OpenCurrent(logPath); // tail 0, or no log yet: from the end on
                current.Position = current.CompleteEnd();
            }
            bool lastPass = false, rotated = false;
            while (true)
            {
                foreach (var entry in current.ReadEntries())
                {
                    if (IsAfterUntil(entry, options)) yield break;
                    if (!IsBeforeSince(entry, options)) yield return entry;
                }
                if (rotated)
                {
                    // Drained once more after the rename was seen (the writer may have added lines just before it):
                    // on to the file that came after this one, a rotation itself when the reader fell behind.
                    var next = current.Successor(logPath);
                    current.Dispose();
                    current = next;
                    rotated = false;
                    continue;
                }
                if (current.IsRotated(logPath)) { rotated = true; continue; }
                if (lastPass || cancellation.IsCancellationRequested) yield break;
                if (options.UntilNanos is { } end && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 > end) yield break;
                if (stopped.IsCompleted) { lastPass = true; continue; }
                try { await Task.WhenAny(Task.Delay(FollowPoll, cancellation), stopped).ConfigureAwait(false); }
                catch (OperationCanceledException) { yield break; }
            }
        }
        finally
        {
            current?.Dispose();
            foreach (var (file, _) in plan) file.Dispose();
        }
    }

    static bool IsAfterUntil(LogEntry entry, LogReadOptions options) => options.UntilNanos is { } until && entry.UnixNanos > until;

    static bool IsBeforeSince(LogEntry entry, LogReadOptions options) => options.SinceNanos is { } since && entry.UnixNanos < since;

    /// <summary>The rotations then the current file, oldest first, with where reading starts in each for <paramref name="tail"/>.</summary>
    static List<(LogFileCursor File, long Start)> Plan(string logPath, int tail)
    {
        var files = new List<LogFileCursor>();
        for (int n = 1; ; n++)
        {
            string plain = $"{logPath}.{n}", gz = plain + ".gz";
            if (File.Exists(plain)) files.Add(LogFileCursor.OpenRotated(plain, compressed: false));
            else if (File.Exists(gz)) files.Add(LogFileCursor.OpenRotated(gz, compressed: true));
            else break;
        }
        files.Reverse();
        if (File.Exists(logPath)) files.Add(LogFileCursor.OpenCurrent(logPath));

        var plan = files.Select(f => (File: f, Start: 0L)).ToList();
        if (tail < 0) return plan;
        int wanted = tail;
        int first = plan.Count; // files before this one are not read at all
        for (int i = plan.Count - 1; i >= 0 && wanted > 0; i--)
        {
            var (start, found) = plan[i].File.TailStart(wanted);
            plan[i] = (plan[i].File, start);
            first = i;
            wanted -= found;
        }
        foreach (var (file, _) in plan.Take(first)) file.Dispose();
        return plan.Skip(first).ToList();
    }

    /// <summary>One json-file line, or null when it is not a log entry.</summary>
    internal static LogEntry? Parse(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            byte[]? log = null;
            LogStream? stream = null;
            long? time = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("log"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    var buffer = new byte[reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length];
                    log = buffer[..reader.CopyString(buffer)];
                }
                else if (reader.ValueTextEquals("stream"u8) && reader.Read())
                    stream = reader.ValueTextEquals("stdout"u8) ? LogStream.Stdout : reader.ValueTextEquals("stderr"u8) ? LogStream.Stderr : null;
                else if (reader.ValueTextEquals("time"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                    time = LogTimestamps.ParseRfc3339(reader.GetString());
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            return log is not null && stream is { } s && time is { } t ? new LogEntry(s, t, log) : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }
}

/// <summary>A log file opened once (so a rename does not move it under the reader), read from a position by offset.</summary>
sealed class LogFileCursor : IDisposable
{
    const int Block = 64 * 1024;
    readonly SafeFileHandle? _handle;
    readonly byte[]? _content; // a decompressed rotation
    byte[]? _identity;         // the first line: how a rotation is told apart from the file being followed

    LogFileCursor(SafeFileHandle? handle, byte[]? content, bool isCurrent)
    {
        _handle = handle;
        _content = content;
        IsCurrent = isCurrent;
    }

    public bool IsCurrent { get; }
    public long Position { get; set; }

    public static LogFileCursor OpenCurrent(string path)
    {
        try { return new LogFileCursor(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), null, true); }
        catch (FileNotFoundException) { return new LogFileCursor(null, null, true); } // not written yet: looks rotated once it is
    }

    public static LogFileCursor OpenRotated(string path, bool compressed)
    {
        if (!compressed) return new LogFileCursor(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), null, false);
        using var input = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return new LogFileCursor(null, output.ToArray(), false);
    }

    long Length => _content?.Length ?? (_handle is null ? 0 : RandomAccess.GetLength(_handle));

    int ReadAt(long offset, Span<byte> buffer)
    {
        if (_content is not null)
        {
            if (offset >= _content.Length) return 0;
            int n = (int)Math.Min(buffer.Length, _content.Length - offset);
            _content.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }
        return _handle is null ? 0 : RandomAccess.Read(_handle, buffer, offset);
    }

    /// <summary>The end of the last complete line (just past its '\n').</summary>
    public long CompleteEnd()
    {
        var buffer = new byte[Block];
        for (long end = Length; end > 0;)
        {
            long start = Math.Max(0, end - Block);
            int n = ReadAt(start, buffer.AsSpan(0, (int)(end - start)));
            int nl = buffer.AsSpan(0, n).LastIndexOf((byte)'\n');
            if (nl >= 0) return start + nl + 1;
            end = start;
        }
        return 0;
    }

    /// <summary>Where the last <paramref name="wanted"/> complete lines start, and how many there are (fewer when the file is short).</summary>
    public (long Start, int Found) TailStart(int wanted)
    {
        long complete = CompleteEnd();
        if (complete == 0) return (0, 0);
        int found = 1; // the line ending at complete
        var buffer = new byte[Block];
        for (long end = complete - 1; end > 0;)
        {
            long start = Math.Max(0, end - Block);
            int n = ReadAt(start, buffer.AsSpan(0, (int)(end - start)));
            for (int i = n - 1; i >= 0; i--)
            {
                if (buffer[i] != '\n') continue;
                if (found == wanted) return (start + i + 1, found);
                found++;
            }
            end = start;
        }
        return (0, found);
    }

    /// <summary>The entries of the complete lines from Position on; Position moves past them, never into a line being written.</summary>
    public IEnumerable<LogEntry> ReadEntries()
    {
        var pending = new List<byte>();
        var buffer = new byte[Block];
        while (true)
        {
            int n = ReadAt(Position + pending.Count, buffer);
            if (n <= 0) break;
            int from = 0;
            for (int nl; (nl = buffer.AsSpan(from, n - from).IndexOf((byte)'\n')) >= 0; from += nl + 1)
            {
                byte[] line;
                if (pending.Count > 0)
                {
                    pending.AddRange(buffer.AsSpan(from, nl));
                    line = [.. pending];
                    pending.Clear();
                }
                else line = buffer.AsSpan(from, nl).ToArray();
                if (Position == 0) _identity ??= line;
                Position += line.Length + 1;
                if (JsonFileLogReader.Parse(line) is { } entry) yield return entry;
            }
            pending.AddRange(buffer.AsSpan(from, n - from)); // a line still being written, or longer than a block
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> now names another file than this one: the writer renamed it to .1 and began a
    /// new one. Told by the first line (each carries a nanosecond time), which needs no inode from the kernel.
    /// </summary>
    public bool IsRotated(string path)
    {
        LogFileCursor now;
        try { now = OpenCurrent(path); }
        catch (IOException) { return false; }
        using (now)
        {
            if (now._handle is null) return false;  // between the rename and the new file
            if (_handle is null) return true;       // there was no file; now there is
            if (_identity is null)
            {
                // Nothing complete read from offset 0 yet: learn this file's first line now.
                ReadFirstLine(this);
                if (_identity is null) return false;
            }
            return !ReadFirstLine(now).SequenceEqual(_identity);
        }
    }

    /// <summary>
    /// The file the writer began after this one: found among the rotations by this file's first line (.N → .N-1, .1 →
    /// the current file). When this file is gone too (the reader fell more than max-file rotations behind), the oldest
    /// rotation left, and the lines in between are lost.
    /// </summary>
    public LogFileCursor Successor(string path)
    {
        if (_identity is null) ReadFirstLine(this);
        string newer = path;
        for (int n = 1; ; n++)
        {
            string name = $"{path}.{n}";
            bool compressed = !File.Exists(name) && File.Exists(name + ".gz");
            if (!File.Exists(name) && !compressed) break;
            try
            {
                using var candidate = OpenRotated(compressed ? name + ".gz" : name, compressed);
                if (_identity is not null && ReadFirstLine(candidate).AsSpan().SequenceEqual(_identity)) break;
            }
            catch (IOException) { break; } // rotated away while looking: take the newest file known
            newer = compressed ? name + ".gz" : name;
        }
        try { return newer == path ? OpenCurrent(path) : OpenRotated(newer, newer.EndsWith(".gz", StringComparison.Ordinal)); }
        catch (IOException) { return OpenCurrent(path); }
    }

    static byte[] ReadFirstLine(LogFileCursor file)
    {
        var line = new List<byte>();
        var buffer = new byte[4096];
        for (long offset = 0; ; )
        {
            int n = file.ReadAt(offset, buffer);
            if (n <= 0) return []; // no complete line: not the same file as one that has one
            int nl = buffer.AsSpan(0, n).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                line.AddRange(buffer.AsSpan(0, nl));
                byte[] result = [.. line];
                file._identity ??= result;
                return result;
            }
            line.AddRange(buffer.AsSpan(0, n));
            offset += n;
        }
    }

    public void Dispose() => _handle?.Dispose();
}
