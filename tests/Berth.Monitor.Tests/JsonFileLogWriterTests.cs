using System.Text.Json;
using Berth.ExecDrivers;

namespace Berth.Monitor.Tests;

public sealed class JsonFileLogWriterTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("berth-logwriter-").FullName;
    static readonly DateTime Clock = new(2026, 12, 6, 4, 31, 2, DateTimeKind.Utc);

    string LogPath => Path.Combine(_dir, "c-json.log");

    static DateTime FixedClock() => Clock.AddTicks(1_234_567);

    static List<(string Log, string Stream, string Time)> Entries(string path) =>
        File.ReadAllLines(path).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.Equal(3, root.EnumerateObject().Count());
            return (root.GetProperty("log").GetString()!, root.GetProperty("stream").GetString()!, root.GetProperty("time").GetString()!);
        }).ToList();

    [Fact]
    public void WritesDockersFormatOneEntryPerLine()
    {
        using (var writer = new JsonFileLogWriter(LogPath, clock: FixedClock))
        {
            writer.Write("stdout", "hi\nthere "u8);
            writer.Write("stderr", "oops \"quoted\" \\ \u0001\n"u8.ToArray());
            writer.Write("stdout", "again\n"u8);
        }
        Assert.Equal("""{"log":"hi\n","stream":"stdout","time":"2026-12-06T04:31:02.123456700Z"}""", File.ReadLines(LogPath).First());
        Assert.Equal(
            [("hi\n", "stdout"), ("oops \"quoted\" \\ \u0001\n", "stderr"), ("there again\n", "stdout")],
            Entries(LogPath).Select(e => (e.Log, e.Stream)).ToList());
    }

    [Fact]
    public void FlushWritesTheLastLineWithoutItsNewline()
    {
        using (var writer = new JsonFileLogWriter(LogPath, clock: FixedClock))
        {
            writer.Write("stdout", "no newline"u8);
            writer.Flush("stdout");
            writer.Flush("stderr");
        }
        Assert.Equal([("no newline", "stdout")], Entries(LogPath).Select(e => (e.Log, e.Stream)).ToList());
    }

    [Fact]
    public void SplitsLinesLongerThan16KiBAsDockerd()
    {
        var line = new string('a', JsonFileLogWriter.MaxLine * 2 + 100) + "\n";
        using (var writer = new JsonFileLogWriter(LogPath, clock: FixedClock))
            foreach (var chunk in line.Chunk(5000)) writer.Write("stdout", System.Text.Encoding.ASCII.GetBytes(chunk));
        var logs = Entries(LogPath).Select(e => e.Log).ToList();
        Assert.Equal([JsonFileLogWriter.MaxLine, JsonFileLogWriter.MaxLine, 101], logs.Select(l => l.Length).ToList());
        Assert.False(logs[0].EndsWith('\n'));
        Assert.EndsWith("\n", logs[2]);
        Assert.Equal(line, string.Concat(logs));
    }

    [Fact]
    public void RotatesAtMaxSizeKeepingMaxFileFiles()
    {
        using (var writer = new JsonFileLogWriter(LogPath, maxSize: 500, maxFile: 3, clock: FixedClock))
            for (int i = 0; i < 40; i++) writer.Write("stdout", System.Text.Encoding.ASCII.GetBytes($"line {i:D3}\n"));
        Assert.True(File.Exists(LogPath + ".1"));
        Assert.True(File.Exists(LogPath + ".2"));
        Assert.False(File.Exists(LogPath + ".3"));
        // Each file stops at the first entry that reaches the size: at most one entry (78 bytes here) past it.
        foreach (var file in new[] { LogPath, LogPath + ".1", LogPath + ".2" })
            Assert.InRange(new FileInfo(file).Length, 1, 500 + 100);
        var kept = new[] { LogPath + ".2", LogPath + ".1", LogPath }.SelectMany(f => Entries(f)).Select(e => e.Log).ToList();
        Assert.Equal("line 039\n", kept[^1]);
        var numbers = kept.Select(l => int.Parse(l[5..8])).ToList();
        Assert.Equal(Enumerable.Range(numbers[0], numbers.Count), numbers);
    }

    [Fact]
    public void MaxFileOneTruncates()
    {
        using (var writer = new JsonFileLogWriter(LogPath, maxSize: 200, maxFile: 1, clock: FixedClock))
            for (int i = 0; i < 20; i++) writer.Write("stdout", System.Text.Encoding.ASCII.GetBytes($"line {i:D3}\n"));
        Assert.False(File.Exists(LogPath + ".1"));
        Assert.Equal("line 019\n", Entries(LogPath)[^1].Log);
        Assert.InRange(new FileInfo(LogPath).Length, 1, 300);
    }

    [Fact]
    public void TimestampHasNineFractionalDigitsInUtc()
    {
        Assert.Equal("2026-12-06T04:31:02.000000000Z", JsonFileLogWriter.Timestamp(Clock));
        Assert.Equal("2026-12-06T04:31:02.123456700Z", JsonFileLogWriter.Timestamp(FixedClock()));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
