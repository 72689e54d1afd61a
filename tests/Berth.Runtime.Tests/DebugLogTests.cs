namespace Berth.Runtime.Tests;

[Collection(nameof(DebugLogTests))] // DebugLog's route is process-wide
public sealed class DebugLogTests : IDisposable
{
    public void Dispose() => DebugLog.RouteTo(null);

    [Fact]
    public void Unrouted_NothingIsFormatted()
    {
        DebugLog.RouteTo(null);
        int evaluated = 0;
        string Count() { evaluated++; return "x"; }

        DebugLog.Write($"step {Count()}");
        using (DebugLog.Time("phase")) { }

        Assert.Equal(0, evaluated);
        Assert.False(DebugLog.Enabled);
    }

    [Fact]
    public void Routed_LinesAndPhasesReachTheSink()
    {
        var lines = new List<string>();
        DebugLog.RouteTo(lines.Add);

        DebugLog.Write($"mount {"proc"} on {"/proc"}, flags 0x{14:x}");
        using (DebugLog.Time("create")) { }
        DebugLog.Forward("from init");
        DebugLog.Forward(null);

        Assert.Equal("mount proc on /proc, flags 0xe", lines[0]);
        Assert.Matches(@"^phase create took \d+\.\d{3} ms$", lines[1]);
        Assert.Equal("from init", lines[2]);
        Assert.Equal(3, lines.Count);
    }
}
