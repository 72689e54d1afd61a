using System.IO.Compression;
using System.Text;
using Berth.Engine.Logs;

namespace Berth.Engine.Tests.Logs;

/// <summary>
/// The reader against logs dockerd 20.10 wrote on this machine (Resources/logs: <c>l1</c> has a line split at 16 KiB and
/// a last line without '\n', <c>rot</c> was rotated with max-size=1k max-file=3), compared with what dockerd's logs API
/// returned for the same queries (Resources/logs/expected.txt, one entry a line: stream, timestamp, text with \n escaped).
/// </summary>
public sealed class JsonFileLogReaderTests : IDisposable
{
    static readonly string Resources = Path.Combine(AppContext.BaseDirectory, "Resources", "logs");
    readonly string _dir = Directory.CreateTempSubdirectory("berth-logs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> DockerdQueries()
    {
        var data = new TheoryData<string, string>();
        foreach (var line in File.ReadLines(Path.Combine(Resources, "expected.txt")).Where(l => l.StartsWith("== ", StringComparison.Ordinal)))
        {
            var parts = line[3..].Split(' ', 2);
            data.Add(parts[0], parts[1]);
        }
        return data;
    }

    [Theory, MemberData(nameof(DockerdQueries))]
    public void ReturnsWhatDockerdReturns(string container, string query)
    {
        var expected = Expected(container, query);
        var options = new LogReadOptions();
        foreach (var pair in query.Split('&'))
        {
            var (key, value) = (pair[..pair.IndexOf('=')], pair[(pair.IndexOf('=') + 1)..]);
            options = key switch
            {
                "tail" => options with { Tail = LogReadOptions.ParseTail(value) },
                "since" => options with { SinceNanos = Berth.Api.ApiTimestamps.ParseQuery(value) },
                "until" => options with { UntilNanos = Berth.Api.ApiTimestamps.ParseQuery(value) },
                _ => throw new ArgumentException(key),
            };
        }
        var actual = JsonFileLogReader.Read(Path.Combine(Resources, container + "-json.log"), options).Select(Show).ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TheSplitLineComesBackAsDockerdReturnsIt_TwoEntriesTheFirstWithoutNewline()
    {
        var entries = JsonFileLogReader.Read(Path.Combine(Resources, "l1-json.log"), new LogReadOptions()).ToList();
        Assert.Equal(6, entries.Count);
        Assert.Equal(16 * 1024, entries[3].Line.Length);
        Assert.Equal(20001 - 16 * 1024, entries[4].Line.Length);
        Assert.Equal("partial", Encoding.UTF8.GetString(entries[5].Line.Span));
        Assert.Equal(LogStream.Stderr, entries[1].Stream);
    }

    [Fact]
    public async Task FollowAsyncMatchesReadForAStoppedContainer()
    {
        var path = Path.Combine(Resources, "rot-json.log");
        var read = JsonFileLogReader.Read(path, new LogReadOptions { Tail = 25 }).Select(Show).ToList();
        var followed = new List<string>();
        await foreach (var e in JsonFileLogReader.ReadAsync(path, new LogReadOptions { Tail = 25, Follow = true }, Task.CompletedTask))
            followed.Add(Show(e));
        Assert.Equal(25, read.Count);
        Assert.Equal(read, followed);
    }

    [Fact]
    public void APartialLastLineIsLeftUntilItIsComplete()
    {
        var path = Write("c-json.log", Line("one\n", 1), Line("two\n", 2)[..20]);
        Assert.Equal(["stdout 1970-01-01T00:00:01.000000000Z one\\n"], JsonFileLogReader.Read(path, new LogReadOptions()).Select(Show));
        Assert.Equal(["stdout 1970-01-01T00:00:01.000000000Z one\\n"], JsonFileLogReader.Read(path, new LogReadOptions { Tail = 1 }).Select(Show));
    }

    [Fact]
    public void ALineThatIsNoEntryIsSkipped()
    {
        var path = Write("c-json.log", Line("one\n", 1), "{\"log\":\"cut\n", "not json\n", Line("two\n", 2));
        Assert.Equal(["one\\n", "two\\n"], JsonFileLogReader.Read(path, new LogReadOptions()).Select(e => Show(e).Split(' ')[2]));
    }

    [Fact]
    public void TailCountsAcrossBlocksAndFiles_CompressedRotationsToo()
    {
        var path = Path.Combine(_dir, "c-json.log");
        File.WriteAllText(path, string.Concat(Enumerable.Range(2000, 1000).Select(i => Line($"{i}\n", i))));
        using (var gz = new GZipStream(File.Create(path + ".1.gz"), CompressionLevel.Fastest))
            gz.Write(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(1000, 1000).Select(i => Line($"{i}\n", i)))));
        File.WriteAllText(path + ".2", string.Concat(Enumerable.Range(0, 1000).Select(i => Line($"{i}\n", i))));
        Assert.Equal(3000, JsonFileLogReader.Read(path, new LogReadOptions()).Count());
        Assert.Equal(Enumerable.Range(500, 2500).Select(i => $"{i}\n"),
            JsonFileLogReader.Read(path, new LogReadOptions { Tail = 2500 }).Select(e => Encoding.UTF8.GetString(e.Line.Span)));
        Assert.Equal(Enumerable.Range(2999, 1).Select(i => $"{i}\n"),
            JsonFileLogReader.Read(path, new LogReadOptions { Tail = 1 }).Select(e => Encoding.UTF8.GetString(e.Line.Span)));
        Assert.Equal(3000, JsonFileLogReader.Read(path, new LogReadOptions { Tail = 9999 }).Count());
        Assert.Equal(Enumerable.Range(1500, 1001).Select(i => $"{i}\n"),
            JsonFileLogReader.Read(path, new LogReadOptions { SinceNanos = 1500L * 1_000_000_000, UntilNanos = 2500L * 1_000_000_000 })
                .Select(e => Encoding.UTF8.GetString(e.Line.Span)));
    }

    [Fact]
    public async Task FollowReadsAppendedLinesAcrossARotationAndEndsWhenTheContainerStops()
    {
        var path = Write("c-json.log", Line("a\n", 1));
        var stopped = new TaskCompletionSource();
        var seen = new List<string>();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reading = Task.Run(async () =>
        {
            await foreach (var e in JsonFileLogReader.ReadAsync(path, new LogReadOptions { Follow = true }, stopped.Task, bound.Token))
                lock (seen) seen.Add(Encoding.UTF8.GetString(e.Line.Span));
        });
        await WaitFor(() => seen.Count == 1, "the first line");
        File.AppendAllText(path, Line("b\n", 2) + Line("c\n", 3)[..10]);
        await WaitFor(() => seen.Count == 2, "the appended line");
        // The writer finishes its line, rotates (rename to .1, new file), and writes on.
        File.AppendAllText(path, Line("c\n", 3)[10..]);
        File.Move(path, path + ".1");
        File.WriteAllText(path, Line("d\n", 4));
        await WaitFor(() => seen.Count == 4, "the lines around the rotation");
        File.AppendAllText(path, Line("e\n", 5));
        stopped.SetResult();
        await reading.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(bound.IsCancellationRequested, "follow did not end when the container stopped");
        Assert.Equal(["a\n", "b\n", "c\n", "d\n", "e\n"], seen);
    }

    [Fact]
    public async Task FollowKeepsUpWithAWriterThatRotatesAsDockerdDoes_SeveralTimesBetweenTwoLooks()
    {
        // dockerd's rotation with max-size=1k max-file=5: drop .4, rename .3→.4 ... current→.1, create a new current.
        var path = Path.Combine(_dir, "w-json.log");
        File.WriteAllText(path, "");
        var stopped = new TaskCompletionSource();
        var writer = Task.Run(async () =>
        {
            var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            for (int i = 0; i < 150; i++)
            {
                if (file.Length > 1000)
                {
                    file.Dispose();
                    File.Delete(path + ".4");
                    for (int n = 4; n > 1; n--)
                        if (File.Exists($"{path}.{n - 1}")) File.Move($"{path}.{n - 1}", $"{path}.{n}");
                    File.Move(path, path + ".1");
                    file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                }
                var bytes = Encoding.UTF8.GetBytes(Line($"line {i}\n", i));
                file.Write(bytes);
                file.Flush();
                // Bursts of 30 lines: two or three rotations before the reader looks again, as when it is starved.
                await Task.Delay(i % 50 < 30 ? 0 : 20);
            }
            file.Dispose();
            stopped.SetResult();
        });
        var lines = await JsonFileLogReader.ReadAsync(path, new LogReadOptions { Follow = true }, stopped.Task)
            .Select(e => Encoding.UTF8.GetString(e.Line.Span)).ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(120));
        await writer;
        Assert.True(File.Exists(path + ".4"));
        Assert.Equal(Enumerable.Range(0, 150).Select(i => $"line {i}\n"), lines);
    }

    [Fact]
    public async Task FollowWithTailZeroStartsAtTheEnd_AndCancellationEndsIt()
    {
        var path = Write("c-json.log", Line("old\n", 1));
        using var cancel = new CancellationTokenSource();
        await using var reader = JsonFileLogReader.ReadAsync(path, new LogReadOptions { Follow = true, Tail = 0 }, new TaskCompletionSource().Task, cancel.Token)
            .GetAsyncEnumerator();
        // The first MoveNextAsync runs up to the first wait, so the reader has taken the end of the file before the append.
        var first = reader.MoveNextAsync().AsTask();
        File.AppendAllText(path, Line("new\n", 2));
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("new\n", Encoding.UTF8.GetString(reader.Current.Line.Span));
        var next = reader.MoveNextAsync().AsTask();
        cancel.Cancel();
        Assert.False(await next.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task FollowEndsAtOnceWhenUntilIsPast_AndAtUntilWhenItIsAhead()
    {
        var path = Write("c-json.log", Line("a\n", 1), Line("b\n", 3));
        var never = new TaskCompletionSource().Task;
        var past = await JsonFileLogReader.ReadAsync(path, new LogReadOptions { Follow = true, UntilNanos = 2_000_000_000 }, never)
            .ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Single(past);
        long soon = (DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1)).ToUnixTimeMilliseconds() * 1_000_000;
        var ahead = await JsonFileLogReader.ReadAsync(path, new LogReadOptions { Follow = true, UntilNanos = soon }, never)
            .ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, ahead.Count);
    }

    [Fact]
    public async Task FollowWaitsForALogThatDoesNotExistYet()
    {
        var path = Path.Combine(_dir, "late-json.log");
        var stopped = new TaskCompletionSource();
        var reading = JsonFileLogReader.ReadAsync(path, new LogReadOptions { Follow = true }, stopped.Task).ToListAsync().AsTask();
        await Task.Delay(200);
        File.WriteAllText(path, Line("x\n", 1));
        await Task.Delay(200);
        stopped.SetResult();
        Assert.Single(await reading.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData("abc", "strconv.ParseInt: parsing \"abc\": invalid syntax")]
    [InlineData("1.5.3", "strconv.ParseInt: parsing \"5.3\": invalid syntax")]
    [InlineData("", "strconv.ParseInt: parsing \"\": invalid syntax")]
    [InlineData("1.", "strconv.ParseInt: parsing \"\": invalid syntax")]
    [InlineData("99999999999999999999", "strconv.ParseInt: parsing \"99999999999999999999\": value out of range")]
    public void QueryTimesFailWithDockerdsMessage(string value, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => Berth.Api.ApiTimestamps.ParseQuery(value)).Message);

    [Theory]
    [InlineData("1796531144", 1796531144_000000000L)]
    [InlineData("1796531144.5998", 1796531144_599800000L)]
    [InlineData("1796531144.599822191", 1796531144_599822191L)]
    [InlineData("1.9999999999", 1_999999999L)]
    [InlineData("-1", -1_000_000_000L)]
    [InlineData("+2.05", 2_050_000_000L)]
    public void QueryTimesParseAsDockerdParsesThem(string value, long nanos) => Assert.Equal(nanos, Berth.Api.ApiTimestamps.ParseQuery(value));

    [Theory]
    [InlineData("2026-12-06T04:25:44.59943117Z", "2026-12-06T04:25:44.599431170Z")]
    [InlineData("2026-12-06T04:25:44Z", "2026-12-06T04:25:44.000000000Z")]
    [InlineData("2026-12-06T05:25:44.000000001+01:00", "2026-12-06T04:25:44.000000001Z")]
    [InlineData("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000000Z")]
    public void TimesFormatAsDockerLogsDashT(string stored, string shown) =>
        Assert.Equal(shown, LogTimestamps.Format(LogTimestamps.ParseRfc3339(stored)));

    [Theory]
    [InlineData("all", -1)]
    [InlineData("0", 0)]
    [InlineData("-3", -1)]
    [InlineData("bogus", -1)]
    [InlineData("7", 7)]
    public void TailParsesAsDockerdParsesIt(string value, int tail) => Assert.Equal(tail, LogReadOptions.ParseTail(value));

    static List<string> Expected(string container, string query) =>
        File.ReadLines(Path.Combine(Resources, "expected.txt"))
            .SkipWhile(l => l != $"== {container} {query}").Skip(1).TakeWhile(l => !l.StartsWith("== ", StringComparison.Ordinal)).ToList();

    internal static string Show(LogEntry e) =>
        $"{(e.Stream == LogStream.Stdout ? "stdout" : "stderr")} {LogTimestamps.Format(e.UnixNanos)} {Encoding.UTF8.GetString(e.Line.Span).Replace("\n", "\\n")}";

    static string Line(string text, long seconds) =>
        $"{{\"log\":{System.Text.Json.JsonSerializer.Serialize(text, Berth.Engine.Tests.Logs.TestJson.Default.String)},\"stream\":\"stdout\",\"time\":\"{DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime:yyyy-MM-dd'T'HH:mm:ss}Z\"}}\n";

    string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Concat(lines));
        return path;
    }

    static async Task WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 60 s for {what}");
            await Task.Delay(20);
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class TestJson : System.Text.Json.Serialization.JsonSerializerContext;
