using System.Text;
using Berth.Api;

namespace Berth.Api.Tests;

public class MultiplexedStreamTests
{
    [Fact]
    public async Task Writer_frames_as_dockerd_does_and_reader_reads_them_back()
    {
        using var wire = new MemoryStream();
        var shared = new SemaphoreSlim(1, 1);
        var stdout = new MultiplexedStreamWriter(wire, StdStream.Stdout, shared);
        var stderr = new MultiplexedStreamWriter(wire, StdStream.Stderr, shared);
        await stdout.WriteAsync(Encoding.ASCII.GetBytes("hi\n"));
        await stderr.WriteAsync(Encoding.ASCII.GetBytes("err\n"));
        await stdout.WriteAsync(ReadOnlyMemory<byte>.Empty);

        // The frame captured from dockerd 20.10 for "echo hi" (docker-api-surface.md §1.5), then stderr's.
        Assert.Equal("0100000000000003" + "68690A" + "0200000000000004" + "6572720A", Convert.ToHexString(wire.ToArray()));

        wire.Position = 0;
        var first = await MultiplexedStream.ReadFrameAsync(wire);
        var second = await MultiplexedStream.ReadFrameAsync(wire);
        Assert.Equal(StdStream.Stdout, first!.Value.Stream);
        Assert.Equal("hi\n", Encoding.ASCII.GetString(first.Value.Payload.Span));
        Assert.Equal(StdStream.Stderr, second!.Value.Stream);
        Assert.Equal("err\n", Encoding.ASCII.GetString(second.Value.Payload.Span));
        Assert.Null(await MultiplexedStream.ReadFrameAsync(wire));
    }

    [Fact]
    public async Task Demultiplex_splits_the_streams_in_order()
    {
        using var wire = new MemoryStream();
        await new MultiplexedStreamWriter(wire, StdStream.Stdout).WriteAsync(Encoding.ASCII.GetBytes("a"));
        await new MultiplexedStreamWriter(wire, StdStream.Stderr).WriteAsync(Encoding.ASCII.GetBytes("b"));
        await new MultiplexedStreamWriter(wire, StdStream.Stdout).WriteAsync(Encoding.ASCII.GetBytes("c"));
        wire.Position = 0;
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        await MultiplexedStream.DemultiplexAsync(wire, stdout, stderr);
        Assert.Equal("ac", Encoding.ASCII.GetString(stdout.ToArray()));
        Assert.Equal("b", Encoding.ASCII.GetString(stderr.ToArray()));
    }

    [Fact]
    public async Task A_payload_cut_short_is_an_error_naming_the_counts()
    {
        using var wire = new MemoryStream(Convert.FromHexString("01000000000000056869"));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => MultiplexedStream.ReadFrameAsync(wire));
        Assert.Contains("2 of 5 bytes", e.Message);
    }

    [Fact]
    public async Task A_header_cut_short_is_an_error()
    {
        using var wire = new MemoryStream(Convert.FromHexString("010000"));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => MultiplexedStream.ReadFrameAsync(wire));
        Assert.Contains("3 of 8 bytes", e.Message);
    }

    [Theory]
    [InlineData("0700000000000001")]   // no stream 7
    [InlineData("0100010000000001")]   // the padding bytes must be zero
    [InlineData("01000000FFFFFFFF")]   // 4 GiB: a corrupt length, not an allocation
    public async Task A_header_that_is_not_one_is_refused(string hex)
    {
        using var wire = new MemoryStream(Convert.FromHexString(hex + "00"));
        await Assert.ThrowsAsync<InvalidDataException>(() => MultiplexedStream.ReadFrameAsync(wire));
    }

    [Fact]
    public async Task A_systemerr_frame_becomes_the_daemons_message()
    {
        using var wire = new MemoryStream();
        await new MultiplexedStreamWriter(wire, StdStream.SystemErr).WriteAsync(Encoding.UTF8.GetBytes("log driver failed\n"));
        wire.Position = 0;
        var e = await Assert.ThrowsAsync<StreamErrorException>(() => MultiplexedStream.DemultiplexAsync(wire, Stream.Null, Stream.Null));
        Assert.Equal("log driver failed", e.Message);
    }

    [Fact]
    public async Task Concurrent_writers_sharing_a_lock_never_interleave_frames()
    {
        using var wire = new MemoryStream();
        var shared = new SemaphoreSlim(1, 1);
        var payload = new byte[10_000];
        var writers = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            var writer = new MultiplexedStreamWriter(wire, i % 2 == 0 ? StdStream.Stdout : StdStream.Stderr, shared);
            for (int n = 0; n < 20; n++) await writer.WriteAsync(payload);
        }));
        await Task.WhenAll(writers);
        wire.Position = 0;
        int frames = 0;
        while (await MultiplexedStream.ReadFrameAsync(wire) is { } frame)
        {
            Assert.Equal(payload.Length, frame.Payload.Length);
            frames++;
        }
        Assert.Equal(160, frames);
    }
}
