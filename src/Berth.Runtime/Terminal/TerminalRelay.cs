using System.Runtime.InteropServices;
using Berth.Linux;

namespace Berth.Runtime.Terminal;

/// <summary>
/// Connects a pty master to the caller's stdio for as long as a foreground process runs: the caller's terminal in
/// raw mode (keys, ^C included, go to the container), input → master and master → output on two threads, and the
/// caller's window size copied to the pty at start and on every SIGWINCH. Dispose restores the caller's terminal.
/// </summary>
public sealed class TerminalRelay : IDisposable
{
    readonly Fd _master;
    readonly int _input, _output;
    readonly Libc.KernelTermios? _saved;
    readonly PosixSignalRegistration? _resize;
    readonly Thread _inputPump, _outputPump;
    volatile bool _stopping;
    bool _disposed;

    TerminalRelay(Fd master, int input, int output)
    {
        _master = master;
        _input = input;
        _output = output;
        if (Tty.IsTerminal(input))
        {
            var saved = Tty.GetAttributes(input);
            Tty.SetAttributes(input, Tty.MakeRaw(saved));
            _saved = saved;
        }
        try
        {
            if (SizeSource() is not null)
            {
                CopySize();
                _resize = PosixSignalRegistration.Create((PosixSignal)Libc.SIGWINCH, ctx =>
                {
                    ctx.Cancel = true;
                    CopySize();
                });
            }
            _outputPump = new Thread(PumpOutput) { IsBackground = true, Name = "pty → stdout" };
            _inputPump = new Thread(PumpInput) { IsBackground = true, Name = "stdin → pty" };
            _outputPump.Start();
            _inputPump.Start();
        }
        catch
        {
            Restore();
            throw;
        }
    }

    /// <summary>Starts relaying between <paramref name="master"/> (owned by the relay from now on) and the given fds.</summary>
    /// <param name="input">The caller's input, put in raw mode when it is a terminal (default stdin).</param>
    /// <param name="output">Where the container's terminal output goes (default stdout).</param>
    public static TerminalRelay Start(Fd master, int input = 0, int output = 1) => new(master, input, output);

    /// <summary>
    /// Waits until every byte the container wrote has been copied out: the master reads EIO once the last process
    /// holding the peer is gone. False if that did not happen within <paramref name="timeout"/> (a process of the
    /// container still holds the terminal).
    /// </summary>
    public bool WaitForOutput(TimeSpan timeout) => _outputPump.Join(timeout);

    int? SizeSource() => Tty.IsTerminal(_input) ? _input : Tty.IsTerminal(_output) ? _output : null;

    void CopySize()
    {
        try
        {
            if (SizeSource() is int from) Tty.SetWindowSize(_master.Value, Tty.GetWindowSize(from));
        }
        catch (LinuxException)
        {
            // The pty may already be gone when the container exits: nothing left to resize.
        }
    }

    unsafe void PumpOutput()
    {
        byte[] buffer = new byte[32 * 1024];
        try
        {
            for (;;)
            {
                int n = Sys.Read(_master, buffer);
                if (n == 0) return;
                WriteAll(_output, buffer.AsSpan(0, n));
            }
        }
        catch (LinuxException)
        {
            // EIO: every peer is closed, the container's output has been read (or our output went away).
        }
    }

    unsafe void PumpInput()
    {
        byte[] buffer = new byte[4096];
        var poll = new Libc.PollFd { Fd = _input, Events = Libc.POLLIN };
        try
        {
            while (!_stopping)
            {
                // Polled with a timeout so that the thread notices the end instead of blocking in read forever.
                int ready = Libc.poll(&poll, 1, 100);
                if (ready < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR) continue;
                if (ready < 0) return;
                if (ready == 0) continue;
                int n;
                fixed (byte* p = buffer) n = (int)Libc.read(_input, p, buffer.Length);
                if (n < 0 && Marshal.GetLastPInvokeError() is Errno.EINTR or Errno.EAGAIN) continue;
                if (n <= 0) return; // EOF on the caller's input: the container keeps running with what it got
                Sys.WriteAll(_master, buffer.AsSpan(0, n));
            }
        }
        catch (LinuxException)
        {
            // The pty hung up: the container is gone.
        }
    }

    static unsafe void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        using var handle = new Fd(fd, owns: false);
        Sys.WriteAll(handle, data);
    }

    void Restore()
    {
        if (_saved is { } saved)
        {
            try
            {
                Tty.SetAttributes(_input, saved);
            }
            catch (LinuxException)
            {
                // The caller's terminal is gone: nothing to restore.
            }
        }
    }

    /// <summary>Stops relaying input, stops resizing, restores the caller's terminal and closes the master.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stopping = true;
        _resize?.Dispose();
        _inputPump.Join(TimeSpan.FromMilliseconds(500));
        Restore();
        // A pump still blocked on the master holds no reference the close could break; the process exits soon.
        if (!_outputPump.IsAlive && !_inputPump.IsAlive) _master.Dispose();
    }
}
