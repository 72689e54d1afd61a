using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Berth.Linux;

namespace Berth.ExecDrivers;

/// <summary>A call to a container's monitor that failed or ran out of its bound; the text names what was waited for.</summary>
public sealed class MonitorException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What `status` says of the container's init.</summary>
public sealed record MonitorStatus(int Pid, bool Running, int? ExitCode);

/// <summary>How the container's init ended (`wait`, or exit.json once the monitor is gone).</summary>
public sealed record MonitorExit(int ExitCode, string FinishedAt);

/// <summary>
/// berthd's side of a container's monitor (docs/engine.md, "The monitor"): launches berth-monitor and talks to it over
/// its control socket, one connection per call. Every call is bounded and fails with a <see cref="MonitorException"/>
/// naming what it waited for; attach and exec return the connection as a stream. The monitor removes its socket once
/// the container has exited: <see cref="Wait"/> then reads <paramref name="exitFile"/> (exit.json), when given.
/// </summary>
public sealed class MonitorClient(string id, string socketPath, string? exitFile = null)
{
    /// <summary>The bound of one request and its reply (not of `wait` or exec-wait, which take their own).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string Id { get; } = id;
    public string SocketPath { get; } = socketPath;
    public string? ExitFile { get; } = exitFile;

    /// <summary>
    /// Writes <paramref name="request"/> to <paramref name="requestPath"/> and starts <c><paramref name="monitorBinary"/>
    /// serve</c> on it, detached (no child of this process: see <see cref="ChildProcess.StartDetached"/>), in a session
    /// of its own, with /dev/null as stdin and stderr and a pipe as stdout. Returns once the monitor wrote its pid file
    /// (the container is created, not started); throws with the runtime's message when it wrote its error file instead,
    /// when it exited without either, and when neither came within <paramref name="timeout"/>.
    /// </summary>
    public static MonitorClient Launch(string monitorBinary, string requestPath, MonitorRequest request, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        File.Delete(request.PidFile);
        File.Delete(request.ErrorFile);
        request.Save(requestPath);
        var (ready, readyWrite) = Sys.Pipe();
        using (ready)
        {
            using (readyWrite)
            {
                try
                {
                    ChildProcess.StartDetached(monitorBinary, ["serve", requestPath], (-1, readyWrite.Value, -1));
                }
                catch (ExecDriverException e)
                {
                    throw new MonitorException($"starting the monitor of {request.Id}: {e.Message}", e);
                }
            }
            // The monitor writes a line on the pipe once its pid file or its error file is there, and its exit closes
            // the pipe: either wakes this wait at once (a poll for the pid file added its period to every start).
            if (!Sys.WaitReadable(ready, RemainingMs(deadline)))
                throw new MonitorException($"waiting for the monitor of {request.Id} to create the container: neither {request.PidFile} nor {request.ErrorFile} appeared within {timeout.TotalSeconds:0} s");
            if (ReadError(request) is { } error)
            {
                // The monitor exits after its error: its end of the pipe closes then. Nothing is left once it has.
                Span<byte> rest = stackalloc byte[64];
                while (Sys.WaitReadable(ready, RemainingMs(deadline)) && Sys.Read(ready, rest) > 0) { }
                throw new MonitorException(error);
            }
        }
        if (File.Exists(request.PidFile)) return new MonitorClient(request.Id, request.Socket, request.ExitFile);
        throw new MonitorException($"the monitor of {request.Id} ended before it created the container, without saying why ({monitorBinary} serve {requestPath})");
    }

    static string? ReadError(MonitorRequest request)
    {
        try
        {
            string text = File.ReadAllText(request.ErrorFile).Trim();
            File.Delete(request.ErrorFile);
            return text.Length > 0 ? text : $"the monitor of {request.Id} failed without saying why";
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Releases init to run the user's process; returns its pid.</summary>
    public int Start()
    {
        var reply = Call(new ControlRequest { Op = "start" }, "start the container");
        return reply.Pid ?? throw new MonitorException($"waiting for the monitor of {Id} to start the container: its reply has no pid");
    }

    public MonitorStatus Status()
    {
        var reply = Call(new ControlRequest { Op = "status" }, "report its status");
        return new MonitorStatus(reply.Pid ?? 0, reply.Running ?? false, reply.ExitCode);
    }

    /// <summary>Waits (bounded) until the container's init exited; when the monitor is gone already (it leaves once it
    /// answered), reads <see cref="ExitFile"/>. Blocks the calling thread: tests and one-shot callers.</summary>
    public MonitorExit Wait(TimeSpan timeout) => WaitAsync(timeout).GetAwaiter().GetResult();

    /// <summary><see cref="Wait"/> with no thread blocked on it: berthd waits so for every running container, where a
    /// thread of its own for each cost a thread's start on every container's start (~1.1 ms of CPU) and its stack for
    /// the container's life.</summary>
    public async Task<MonitorExit> WaitAsync(TimeSpan timeout)
    {
        ControlReply reply;
        try
        {
            reply = await CallAsync(new ControlRequest { Op = "wait" }, "report the container's exit", timeout);
        }
        catch (MonitorException) when (ExitFile is not null && ExitRecord.TryLoad(ExitFile) is { } record)
        {
            return new MonitorExit(record.ExitCode, record.FinishedAt);
        }
        return ExitOf(reply);
    }

    MonitorExit ExitOf(ControlReply reply) =>
        new(reply.ExitCode ?? throw new MonitorException($"waiting for the monitor of {Id} to report the container's exit: its reply has no exit code"),
            reply.FinishedAt ?? "");

    /// <summary>The container's output (multiplexed frames without a tty, raw with one) and, when asked, its stdin.</summary>
    public Stream Attach(bool stdin, bool stdout, bool stderr) =>
        Stream(new ControlRequest { Op = "attach", Stdin = stdin, Stdout = stdout, Stderr = stderr }, "attach").Stream;

    public void Resize(int width, int height) =>
        Call(new ControlRequest { Op = "resize", Width = width, Height = height }, "resize the container's terminal");

    /// <summary>Runs <paramref name="process"/> in the container as the monitor's child; the stream carries its output
    /// (as attach does) and its stdin when asked. The exit code comes from <see cref="ExecWait"/>.</summary>
    public (int Pid, Stream Stream) Exec(Oci.Process process, bool tty, bool stdin)
    {
        var (reply, stream) = Stream(new ControlRequest
        {
            Op = "exec",
            Tty = tty,
            Stdin = stdin,
            Process = JsonSerializer.SerializeToElement(process, Oci.OciJsonContext.Default.Process),
        }, "exec a process");
        return (reply.Pid ?? throw new MonitorException($"waiting for the monitor of {Id} to exec a process: its reply has no pid"), stream);
    }

    public int ExecWait(int pid, TimeSpan timeout)
    {
        var reply = Call(new ControlRequest { Op = "exec-wait", Pid = pid }, $"report the exit of exec'd process {pid}", timeout);
        return reply.ExitCode ?? throw new MonitorException($"waiting for the monitor of {Id} to report the exit of exec'd process {pid}: its reply has no exit code");
    }

    public void ExecResize(int pid, int width, int height) =>
        Call(new ControlRequest { Op = "exec-resize", Pid = pid, Width = width, Height = height }, $"resize the terminal of exec'd process {pid}");

    ControlReply Call(ControlRequest request, string what, TimeSpan? timeout = null)
    {
        using var socket = Connect(request, what, timeout ?? CallTimeout, out var reply);
        return reply;
    }

    (ControlReply Reply, Stream Stream) Stream(ControlRequest request, string what)
    {
        var socket = Connect(request, what, CallTimeout, out var reply);
        socket.ReceiveTimeout = 0;
        socket.SendTimeout = 0;
        return (reply, new NetworkStream(socket, ownsSocket: true));
    }

    Socket Connect(ControlRequest request, string what, TimeSpan timeout, out ControlReply reply)
    {
        string waiting = $"waiting for the monitor of {Id} to {what}";
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            int ms = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue);
            socket.ReceiveTimeout = ms;
            socket.SendTimeout = ms;
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            }
            catch (SocketException e)
            {
                throw new MonitorException($"{waiting}: cannot connect to {SocketPath} ({Describe(e)}); the monitor is not running");
            }
            socket.Send(RequestLine(request));
            reply = ReadReply(socket, waiting, timeout);
            if (reply.Error is { } error) throw new MonitorException(error);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A call whose reply ends the connection (`wait`), made with asynchronous socket calls: the reply line is read
    /// in chunks, since nothing follows it.
    /// </summary>
    async Task<ControlReply> CallAsync(ControlRequest request, string what, TimeSpan timeout)
    {
        string waiting = $"waiting for the monitor of {Id} to {what}";
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var bound = new CancellationTokenSource(timeout);
        try
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), bound.Token);
            }
            catch (SocketException e)
            {
                throw new MonitorException($"{waiting}: cannot connect to {SocketPath} ({Describe(e)}); the monitor is not running");
            }
            await socket.SendAsync(RequestLine(request), bound.Token);
            var line = new List<byte>(128);
            var buffer = new byte[256];
            for (;;)
            {
                int n = await socket.ReceiveAsync(buffer, bound.Token);
                if (n == 0) throw new MonitorException($"{waiting}: the monitor closed the connection without a reply");
                int end = Array.IndexOf(buffer, (byte)'\n', 0, n);
                line.AddRange(buffer.AsSpan(0, end < 0 ? n : end));
                if (end >= 0) break;
                if (line.Count > 1 << 20) throw new MonitorException($"{waiting}: its reply is longer than 1 MiB");
            }
            var reply = ParseReply(line, waiting);
            if (reply.Error is { } error) throw new MonitorException(error);
            return reply;
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested)
        {
            throw new MonitorException($"{waiting}: no reply within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException e)
        {
            throw new MonitorException($"{waiting}: {Describe(e)}");
        }
    }

    static byte[] RequestLine(ControlRequest request) =>
        [.. JsonSerializer.SerializeToUtf8Bytes(request, DriverJsonContext.Default.ControlRequest), (byte)'\n'];

    /// <summary>One JSON line, read a byte at a time so that nothing of the stream after it is consumed.</summary>
    static ControlReply ReadReply(Socket socket, string waiting, TimeSpan timeout)
    {
        var line = new List<byte>(128);
        var one = new byte[1];
        for (;;)
        {
            int n;
            try
            {
                n = socket.Receive(one);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
            {
                throw new MonitorException($"{waiting}: no reply within {timeout.TotalSeconds:0} s");
            }
            catch (SocketException e)
            {
                throw new MonitorException($"{waiting}: {Describe(e)}");
            }
            if (n == 0) throw new MonitorException($"{waiting}: the monitor closed the connection without a reply");
            if (one[0] == '\n') break;
            line.Add(one[0]);
            if (line.Count > 1 << 20) throw new MonitorException($"{waiting}: its reply is longer than 1 MiB");
        }
        return ParseReply(line, waiting);
    }

    static ControlReply ParseReply(List<byte> line, string waiting)
    {
        try
        {
            return JsonSerializer.Deserialize(line.ToArray(), DriverJsonContext.Default.ControlReply)
                ?? throw new MonitorException($"{waiting}: its reply is null");
        }
        catch (JsonException e)
        {
            throw new MonitorException($"{waiting}: its reply is not JSON ({e.Message}): {Encoding.UTF8.GetString(line.ToArray())}");
        }
    }

    static string Describe(SocketException e) => $"socket error {e.SocketErrorCode}";

    static int RemainingMs(DateTime deadline) => (int)Math.Min(int.MaxValue, Remaining(deadline).TotalMilliseconds);

    static TimeSpan Remaining(DateTime deadline) => deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;
}
