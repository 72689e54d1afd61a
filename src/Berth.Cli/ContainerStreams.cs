using System.Runtime.InteropServices;
using Berth.Api;
using Berth.Linux;

namespace Berth.Cli;

/// <summary>
/// The local terminal in raw mode while a container's terminal is attached; the saved attributes come back on
/// <see cref="Dispose"/> and, should the process end another way, on exit.
/// </summary>
public sealed class RawTerminal : IDisposable
{
    readonly int _fd;
    readonly Libc.KernelTermios _saved;
    int _restored;

    RawTerminal(int fd, Libc.KernelTermios saved)
    {
        _fd = fd;
        _saved = saved;
        AppDomain.CurrentDomain.ProcessExit += OnExit;
    }

    /// <summary>Raw mode on <paramref name="fd"/> when it is a terminal; null when it is not.</summary>
    public static RawTerminal? Enter(int fd)
    {
        if (!Tty.IsTerminal(fd)) return null;
        var saved = Tty.GetAttributes(fd);
        Tty.SetAttributes(fd, Tty.MakeRaw(saved));
        return new RawTerminal(fd, saved);
    }

    void OnExit(object? sender, EventArgs e) => Dispose();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        try
        {
            Tty.SetAttributes(_fd, _saved);
        }
        catch (LinuxException)
        {
            // The terminal went away (hang-up): nothing to restore.
        }
    }
}

/// <summary>The size of the local terminal, and its changes (SIGWINCH) handed to a resize call.</summary>
public static class TerminalSize
{
    /// <summary>(rows, columns) of the first of stdout, stdin that is a terminal; null when neither is or the size is 0.</summary>
    public static (int Height, int Width)? Current()
    {
        foreach (int fd in new[] { 1, 0 })
        {
            if (!Tty.IsTerminal(fd)) continue;
            try
            {
                var size = Tty.GetWindowSize(fd);
                if (size.Rows > 0 && size.Columns > 0) return (size.Rows, size.Columns);
            }
            catch (LinuxException)
            {
            }
        }
        return null;
    }

    /// <summary>Sends the size now and at every SIGWINCH until disposed. Resize errors are ignored (the process may be gone).</summary>
    public static IDisposable Follow(Func<int, int, Task> resize)
    {
        async Task SendAsync()
        {
            if (Current() is not { } size) return;
            try
            {
                await resize(size.Height, size.Width);
            }
            catch (Exception e) when (e is DaemonErrorException or IOException or HttpRequestException)
            {
            }
        }
        _ = SendAsync();
        return PosixSignalRegistration.Create((PosixSignal)Libc.SIGWINCH, context =>
        {
            context.Cancel = true;
            _ = SendAsync();
        });
    }
}

/// <summary>Pumps a hijacked connection: stdin to the daemon (then half-close), its output to stdout/stderr.</summary>
public static class AttachedStreams
{
    /// <summary>
    /// fd 0, 1 or 2 as a plain unbuffered stream. Not the Console's streams: on a terminal .NET's console sets its own
    /// termios (ISIG back on) around reads and takes a ^D read in raw mode for the end of input, which would
    /// half-close the container's stdin (and dockerd then ends a terminal's output) while the user types.
    /// </summary>
    static Stream Fd(int fd, FileAccess access) => new FdStream(fd, access);
    /// <summary>
    /// Copies until the daemon ends the output. Stdin is copied only when <paramref name="stdin"/> (and ends with a
    /// half-close so that the container sees EOF); output is demultiplexed unless <paramref name="tty"/>.
    /// </summary>
    public static async Task PumpAsync(HijackedConnection connection, bool stdin, bool tty, CancellationToken ct)
    {
        var stdout = Fd(1, FileAccess.Write);
        var stderr = Fd(2, FileAccess.Write);
        if (stdin)
        {
            var input = Fd(0, FileAccess.Read);
            _ = Task.Run(async () =>
            {
                var buffer = new byte[32 * 1024];
                try
                {
                    while (true)
                    {
                        int n = await input.ReadAsync(buffer, ct);
                        if (n == 0) break;
                        await connection.Stream.WriteAsync(buffer.AsMemory(0, n), ct);
                        await connection.Stream.FlushAsync(ct);
                    }
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
                {
                    // The connection ended first: the output side reports what matters.
                }
                connection.CloseWrite();
            }, ct);
        }
        try
        {
            if (tty)
            {
                var buffer = new byte[32 * 1024];
                int n;
                while ((n = await connection.Stream.ReadAsync(buffer, ct)) > 0)
                {
                    await stdout.WriteAsync(buffer.AsMemory(0, n), ct);
                    await stdout.FlushAsync(ct);
                }
            }
            else
            {
                await MultiplexedStream.DemultiplexAsync(connection.Stream, stdout, stderr, ct);
            }
        }
        catch (IOException) when (!ct.IsCancellationRequested)
        {
            // The daemon closed the connection (the container ended): the end of the output.
        }
    }

    /// <summary>Copies a logs body to stdout/stderr, demultiplexed unless the container has a terminal.</summary>
    public static async Task CopyLogsAsync(Stream body, bool tty, CancellationToken ct)
    {
        var stdout = Fd(1, FileAccess.Write);
        if (tty)
        {
            await body.CopyToAsync(stdout, ct);
            return;
        }
        await MultiplexedStream.DemultiplexAsync(body, stdout, Fd(2, FileAccess.Write), ct);
    }
}

/// <summary>
/// read(2)/write(2) on an fd this process did not open, at the fd's own offset. FileStream would not do: on a
/// regular file it writes with pwrite from offset 0, over what the shell's redirection already holds.
/// </summary>
sealed class FdStream(int fd, FileAccess access) : Stream
{
    readonly Fd _fd = new(fd, owns: false);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return Sys.Read(_fd, buffer);
        }
        catch (LinuxException e)
        {
            throw new IOException($"reading fd {fd}: {e.Message}", e);
        }
    }

    /// <summary>A blocking read moved off the caller (a terminal read cannot be cancelled; the process ends it).</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
        new(Task.Run(() => Read(buffer.Span), ct));

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            Sys.WriteAll(_fd, buffer);
        }
        catch (LinuxException e)
        {
            throw new IOException($"writing fd {fd}: {e.Message}", e);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override bool CanRead => access.HasFlag(FileAccess.Read);
    public override bool CanWrite => access.HasFlag(FileAccess.Write);
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// docker's --sig-proxy: while the client waits on a container without a terminal, the signals it gets (HUP, INT,
/// QUIT, USR1, USR2, TERM) are sent to the container through the kill endpoint instead of ending the client.
/// </summary>
public static class SignalProxy
{
    static readonly int[] Forwarded = [Libc.SIGHUP, Libc.SIGINT, Libc.SIGQUIT, Libc.SIGUSR1, 12 /* SIGUSR2 */, Libc.SIGTERM];

    public static IDisposable Forward(Func<string, Task> kill)
    {
        var registrations = Forwarded.Select(signal => PosixSignalRegistration.Create((PosixSignal)signal, context =>
        {
            context.Cancel = true;
            _ = Task.Run(async () =>
            {
                try
                {
                    await kill(signal.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                catch (Exception e) when (e is DaemonErrorException or IOException or HttpRequestException)
                {
                    // The container may have ended meanwhile: nothing to deliver.
                }
            });
        })).ToList();
        return new Registrations(registrations);
    }

    sealed class Registrations(List<PosixSignalRegistration> all) : IDisposable
    {
        public void Dispose() => all.ForEach(r => r.Dispose());
    }
}
