using System.Net.Sockets;
using System.Text.Json;
using Berth.ExecDrivers;
using Berth.Linux;

namespace Berth.Monitor;

/// <summary>A process exec'd through the monitor: its pty master (with a terminal) and, once it exited, its exit code.</summary>
sealed class ExecSession(int pid, Fd? master)
{
    public int Pid { get; } = pid;
    /// <summary>Closed once the process exited and its output ended (exec-resize is refused from then on).</summary>
    public Fd? Master { get; } = master;
    public ManualResetEventSlim Exited { get; } = new();
    public int ExitCode { get; set; }
}

sealed partial class ContainerMonitor
{
    readonly Dictionary<int, ExecSession> _execs = [];
    int _execCount;

    /// <summary>Runs the process as our child with stdio on this connection: reply {"Pid":N}, then its output (framed
    /// without a terminal) until it ends, and client bytes to its stdin when asked.</summary>
    bool Exec(Socket connection, ControlRequest request)
    {
        if (_exited.IsSet) throw new MonitorRequestException($"cannot exec in container {_request.Id}: it has exited");
        var process = request.Process?.Deserialize(Oci.OciJsonContext.Default.Process)
            ?? throw new MonitorRequestException("exec: the request has no Process");
        bool tty = request.Tty == true;
        process.Terminal = tty;
        ExecSession session;
        List<(Fd Fd, byte Stream)> outputs = [];
        Fd? input;
        if (tty)
        {
            string path = Path.Combine(Path.GetDirectoryName(_request.Socket)!, $"exec-{Interlocked.Increment(ref _execCount)}.sock");
            using var console = ConsoleListener.Open(path);
            int pid = _driver.Exec(_request.Id, process, DriverStdio.Console(console.Path));
            Fd master;
            try
            {
                master = console.ReceiveMaster(RequestBound, $"the pty master of the process exec'd in {_request.Id}");
            }
            catch
            {
                Libc.kill(pid, Libc.SIGKILL);
                Libc.waitpid(pid, out _, 0);
                throw;
            }
            session = new ExecSession(pid, master);
            input = request.Stdin == true ? master : null;
            outputs.Add((master, Frames.Stdout));
        }
        else
        {
            using var pipes = new StdioPipes(request.Stdin == true);
            int pid = pipes.Run(stdio => _driver.Exec(_request.Id, process, stdio));
            session = new ExecSession(pid, null);
            input = pipes.Stdin;
            outputs.Add((pipes.Stdout, Frames.Stdout));
            outputs.Add((pipes.Stderr, Frames.Stderr));
        }
        lock (_lock) _execs[session.Pid] = session;
        new Thread(() =>
        {
            session.ExitCode = ProcessExit.Wait(session.Pid);
            session.Exited.Set();
        }, 128 * 1024) { IsBackground = true, Name = "exec" }.Start();

        Reply(connection, new ControlReply { Pid = session.Pid });
        connection.ReceiveTimeout = 0;
        connection.SendTimeout = 0;
        var writeLock = new Lock();
        var pumps = outputs.Select(o =>
        {
            var t = new Thread(() => PumpTo(connection, writeLock, o.Fd, o.Stream, framed: !tty), 128 * 1024) { IsBackground = true, Name = "exec-output" };
            t.Start();
            return t;
        }).ToList();
        if (input is not null)
        {
            // Its own thread: the connection ends with the output, whether or not the client closed its side.
            new Thread(() =>
            {
                CopyInput(connection, input);
                if (!tty) input.Dispose();
            }, 128 * 1024) { IsBackground = true, Name = "exec-input" }.Start();
        }
        foreach (var pump in pumps) pump.Join();
        session.Exited.Wait(DrainBound);
        connection.Dispose();
        lock (_lock) session.Master?.Dispose();
        return true;
    }

    static void PumpTo(Socket connection, Lock writeLock, Fd source, byte stream, bool framed)
    {
        var buffer = ReadBuffer(32 * 1024);
        try
        {
            for (;;)
            {
                int n = Sys.Read(source, buffer);
                if (n == 0) return;
                var chunk = framed ? Frames.Frame(stream, buffer.AsSpan(0, n)) : buffer.AsSpan(0, n).ToArray();
                lock (writeLock) connection.Send(chunk);
            }
        }
        catch (Exception e) when (e is LinuxException or SocketException or ObjectDisposedException)
        {
            // EIO from a pty whose process is gone, or the client went away.
        }
        finally
        {
            // The master stays with the session for exec-resize until the process exits; pipes go now.
            if (framed) source.Dispose();
        }
    }

    ExecSession FindExec(ControlRequest request)
    {
        lock (_lock)
            return request.Pid is { } pid && _execs.TryGetValue(pid, out var session) ? session
                : throw new MonitorRequestException($"no process {request.Pid} was exec'd through this monitor");
    }

    bool ExecWait(Socket connection, ControlRequest request)
    {
        var session = FindExec(request);
        connection.ReceiveTimeout = 0;
        session.Exited.Wait();
        return Reply(connection, new ControlReply { ExitCode = session.ExitCode });
    }
}
