using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Berth.ExecDrivers;
using Berth.Linux;

namespace Berth.Monitor;

/// <summary>
/// One container's monitor (docs/engine.md, "The monitor"): creates the container through its exec driver with stdio
/// it holds, writes the json-file log, serves the control socket, and when init exits drains the output, deletes the
/// container, records exit.json, answers the waiters and exits.
/// </summary>
sealed partial class ContainerMonitor
{
    static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(10);
    static readonly TimeSpan RequestBound = TimeSpan.FromSeconds(30);

    readonly MonitorRequest _request;
    readonly IExecDriver _driver;
    readonly OutputFanout _fanout = new();
    readonly Lock _lock = new();
    readonly List<Socket> _waiters = [];
    readonly ManualResetEventSlim _exited = new();
    readonly List<Thread> _pumps = [];
    Socket _listener = null!;
    JsonFileLogWriter? _log;
    Fd? _stdin;
    Fd? _master;
    int _initPid;
    ExitRecord? _exit;
    readonly List<Thread> _handlers = []; // control requests in progress, joined before the process exits
    int _busy; // control requests being answered: at 0, the monitor is idle

    ContainerMonitor(MonitorRequest request)
    {
        _request = request;
        _driver = request.Driver.Open();
    }

    /// <summary>`berth-monitor monitor.json`: starts the real monitor in a session of its own and exits, so that it is
    /// no child of whoever launched it (who reaps this process at once).</summary>
    public static int Detach(string requestPath)
    {
        try
        {
            using var monitor = ChildProcess.Start(Environment.ProcessPath!, ["serve", Path.GetFullPath(requestPath)], (-1, -1, -1), newSession: true);
            return 0;
        }
        catch (Exception e) when (e is ExecDriverException or IOException or LinuxException)
        {
            return Fail(requestPath, null, $"starting the monitor: {e.Message}");
        }
    }

    /// <summary>`berth-monitor serve monitor.json`: the monitor itself.</summary>
    public static int Serve(string requestPath)
    {
        MonitorRequest request;
        try
        {
            request = MonitorRequest.Load(requestPath);
        }
        catch (Exception e) when (e is ExecDriverException or IOException or UnauthorizedAccessException)
        {
            return Fail(requestPath, null, e.Message);
        }
        // Processes of the container whose parent exits (an OCI runtime's init, an exec's process) come to us.
        Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        IdleMemory.LimitMallocArenas();
        Libc.signal(Libc.SIGHUP, Libc.SIG_IGN);
        try
        {
            return new ContainerMonitor(request).Run();
        }
        catch (Exception e) when (e is ExecDriverException or IOException or UnauthorizedAccessException or LinuxException or SocketException)
        {
            return Fail(requestPath, request, e.Message);
        }
    }

    /// <summary>Writes the launch's error file (beside the pid file, or beside the request when that could not be read).</summary>
    static int Fail(string requestPath, MonitorRequest? request, string message)
    {
        string errorFile = request?.ErrorFile ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(requestPath))!, "monitor.error");
        try
        {
            AtomicFile.Write(errorFile, Encoding.UTF8.GetBytes(message), durable: false);
        }
        catch (IOException)
        {
            // Nowhere to say it: the launcher's bound names what it waited for.
        }
        // Stdout stays the pipe: berthd, told of the error, reads on to its end, which our exit makes, so that no
        // monitor is left when the launch fails.
        SignalLauncher(keepStdout: true);
        return 1;
    }

    /// <summary>
    /// Tells berthd, which waits on our stdout (a pipe), that the pid file or the error file is written: a line, then
    /// (unless <paramref name="keepStdout"/>) stdout becomes /dev/null, so that nothing written later blocks on or
    /// breaks against a pipe nobody reads.
    /// </summary>
    static unsafe void SignalLauncher(bool keepStdout = false)
    {
        byte line = (byte)'\n';
        Libc.write(1, &line, 1);
        if (keepStdout) return;
        try
        {
            using var devNull = Sys.Open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
            Libc.dup3(devNull.Value, 1, 0);
        }
        catch (LinuxException)
        {
            // /dev/null missing: stdout stays the pipe, whose reader has gone (SIGPIPE is ignored).
        }
    }

    int Run()
    {
        File.Delete(_request.Socket);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_request.Socket));
        _listener.Listen(64);
        try
        {
            if (_request.Log is { Driver: "json-file", Path: { } logPath })
                _log = new JsonFileLogWriter(logPath, _request.Log.MaxSize, Math.Max(1, _request.Log.MaxFile));
            Create();
        }
        catch
        {
            _listener.Dispose();
            File.Delete(_request.Socket);
            _log?.Dispose();
            throw;
        }
        // Before init is watched: its exit removes the pid file, which must not come back after that.
        AtomicFile.Write(_request.PidFile, Encoding.ASCII.GetBytes(Environment.ProcessId.ToString()), durable: false);
        SignalLauncher();
        IdleMemory.Collect();
        new Thread(WaitForInit, 128 * 1024) { IsBackground = true, Name = "init" }.Start();
        for (;;)
        {
            Socket connection;
            try
            {
                connection = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                break; // closed once the container has exited and its waiters were answered
            }
            var handler = new Thread(() => Handle(connection), 256 * 1024) { IsBackground = true, Name = "control" };
            lock (_handlers)
            {
                _handlers.RemoveAll(t => !t.IsAlive);
                _handlers.Add(handler);
            }
            handler.Start();
        }
        // A request still being answered (the start of an init that exited at once) gets its reply before the process
        // ends: berthd took a start without a reply for a failed one, of a container that had run.
        var deadline = DateTime.UtcNow + RequestBound;
        lock (_handlers)
            foreach (var handler in _handlers) handler.Join(Max(deadline - DateTime.UtcNow, TimeSpan.Zero));
        return 0;
    }

    /// <summary>
    /// A buffer that a thread blocks in read(2) or recv(2) with, which pins it for as long as the container is quiet:
    /// on the pinned object heap, so that the collections meanwhile (IdleMemory's, then one per 64 KiB
    /// allocated) can compact the heap around it instead of keeping the space before it (~280 KiB measured).
    /// </summary>
    static byte[] ReadBuffer(int size) => GC.AllocateUninitializedArray<byte>(size, pinned: true);

    /// <summary>Creates the container with pipes for its stdio, or a console socket that receives its pty master.</summary>
    void Create()
    {
        if (_request.Terminal)
        {
            using var console = ConsoleListener.Open(_request.ConsoleSocket);
            _initPid = _driver.Create(_request.Id, _request.Bundle, DriverStdio.Console(console.Path));
            _master = ReceiveMasterOrDelete(console);
            StartPump(_master, Frames.Stdout, "stdout");
            return;
        }
        using var pipes = new StdioPipes(_request.OpenStdin);
        _initPid = pipes.Run(stdio => _driver.Create(_request.Id, _request.Bundle, stdio));
        _stdin = pipes.Stdin;
        StartPump(pipes.Stdout, Frames.Stdout, "stdout");
        StartPump(pipes.Stderr, Frames.Stderr, "stderr");
    }

    Fd ReceiveMasterOrDelete(ConsoleListener console)
    {
        try
        {
            return console.ReceiveMaster(RequestBound, $"the pty master of container {_request.Id}");
        }
        catch
        {
            try { _driver.Delete(_request.Id, force: true); } catch (ExecDriverException) { /* the first error matters */ }
            throw;
        }
    }

    void StartPump(Fd source, byte stream, string name)
    {
        var pump = new Thread(() => Pump(source, stream, name), 128 * 1024) { IsBackground = true, Name = name };
        _pumps.Add(pump);
        pump.Start();
    }

    /// <summary>Copies one output stream to the log and the attached clients until EOF (EIO for a pty whose peer is closed).</summary>
    void Pump(Fd source, byte stream, string name)
    {
        var buffer = ReadBuffer(32 * 1024);
        try
        {
            for (;;)
            {
                int n = Sys.Read(source, buffer);
                if (n == 0) break;
                _log?.Write(name, buffer.AsSpan(0, n));
                _fanout.Publish(stream, buffer.AsSpan(0, n));
            }
        }
        catch (LinuxException)
        {
            // EIO: the pty's other side is closed everywhere.
        }
        catch (IOException)
        {
            // The log's disk: the output still reaches attached clients until the end... or nowhere.
        }
        finally
        {
            try { _log?.Flush(name); } catch (IOException) { /* as above */ }
            lock (_lock) source.Dispose(); // a resize holds the lock while it uses the pty master

        }
    }

    void WaitForInit()
    {
        int exitCode = ProcessExit.Wait(_initPid);
        var deadline = DateTime.UtcNow + DrainBound;
        foreach (var pump in _pumps) pump.Join(Max(deadline - DateTime.UtcNow, TimeSpan.Zero));
        string error = "";
        // Before the delete, which removes the cgroup and its count.
        bool oomKilled = BundleCgroup.OomKilled(_request.Bundle, _request.Id);
        try
        {
            _driver.Delete(_request.Id, force: true);
        }
        catch (ExecDriverException e)
        {
            error = $"deleting the container after its exit: {e.Message}";
        }
        var record = new ExitRecord { ExitCode = exitCode, FinishedAt = JsonFileLogWriter.Timestamp(DateTime.UtcNow), OOMKilled = oomKilled, Error = error };
        try
        {
            AtomicFile.Write(_request.ExitFile, JsonSerializer.SerializeToUtf8Bytes(record, DriverJsonContext.Default.ExitRecord));
        }
        catch (IOException)
        {
            // The waiters still hear it.
        }
        // No new connections from here; the ones already waiting get their answer.
        File.Delete(_request.Socket);
        List<Socket> waiters;
        lock (_lock)
        {
            _exit = record;
            waiters = [.. _waiters];
            _waiters.Clear();
        }
        _exited.Set();
        foreach (var waiter in waiters) ReplyAndClose(waiter, ExitReply(record));
        _fanout.End();
        _log?.Dispose();
        File.Delete(_request.PidFile);
        _listener.Dispose();
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    static ControlReply ExitReply(ExitRecord record) => new() { ExitCode = record.ExitCode, FinishedAt = record.FinishedAt };

    void Handle(Socket connection)
    {
        Interlocked.Increment(ref _busy);
        bool keep = false;
        try
        {
            connection.ReceiveTimeout = (int)RequestBound.TotalMilliseconds;
            connection.SendTimeout = (int)RequestBound.TotalMilliseconds;
            var request = ReadRequest(connection);
            keep = request.Op switch
            {
                "start" => Reply(connection, new ControlReply { Pid = Start() }),
                "status" => Reply(connection, Status()),
                "wait" => Wait(connection),
                "attach" => Attach(connection, request),
                "resize" => Reply(connection, Resize(_master, request)),
                "exec" => Exec(connection, request),
                "exec-wait" => ExecWait(connection, request),
                "exec-resize" => Reply(connection, Resize(FindExec(request).Master, request)),
                _ => throw new MonitorRequestException($"unknown operation \"{request.Op}\" (start, status, wait, attach, resize, exec, exec-wait, exec-resize)"),
            };
        }
        catch (Exception e) when (e is MonitorRequestException or ExecDriverException or LinuxException or JsonException)
        {
            Reply(connection, new ControlReply { Error = e.Message });
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
        finally
        {
            if (!keep) connection.Dispose();
            if (Interlocked.Decrement(ref _busy) == 0 && !_exited.IsSet) IdleMemory.Settle();
        }
    }

    int Start()
    {
        if (_exited.IsSet) throw new MonitorRequestException($"container {_request.Id} has exited already");
        _driver.Start(_request.Id);
        return _initPid;
    }

    ControlReply Status()
    {
        lock (_lock) return new ControlReply { Pid = _initPid, Running = _exit is null, ExitCode = _exit?.ExitCode };
    }

    bool Wait(Socket connection)
    {
        lock (_lock)
        {
            if (_exit is null)
            {
                _waiters.Add(connection);
                return true;
            }
        }
        return Reply(connection, ExitReply(_exit));
    }

    ControlReply Resize(Fd? master, ControlRequest request)
    {
        if (master is null) throw new MonitorRequestException("resize: the process has no terminal");
        if (request is not { Width: > 0 and <= ushort.MaxValue, Height: > 0 and <= ushort.MaxValue })
            throw new MonitorRequestException($"resize: width {request.Width} and height {request.Height} must be between 1 and 65535");
        // Under the lock that closes masters: the number must not be reused by then.
        lock (_lock)
        {
            if (master.IsClosed) throw new MonitorRequestException("resize: the process has exited");
            Tty.SetWindowSize(master.Value, new Libc.WinSize { Columns = (ushort)request.Width!.Value, Rows = (ushort)request.Height!.Value });
        }
        return new ControlReply();
    }

    bool Attach(Socket connection, ControlRequest request)
    {
        connection.ReceiveTimeout = 0;
        connection.SendTimeout = 0;
        bool output = request.Stdout == true || request.Stderr == true;
        if (!output)
            Reply(connection, new ControlReply());
        else
        {
            // The reply leaves through the client's queue, once the client is in the fanout: berthd releases init
            // when it reads it, and output from then on must reach this client (a CI run lost an early stderr line).
            var client = new AttachClient(connection, request.Stdout == true, request.Stderr == true, framed: !_request.Terminal, first: ReplyLine(new ControlReply()));
            if (!_fanout.Add(client))
            {
                client.End(RequestBound); // the output has ended: the reply, then nothing to attach to
                return true; // the client's writer closes the connection
            }
        }
        var input = _master ?? _stdin;
        if (request.Stdin == true && input is not null)
        {
            CopyInput(connection, input);
            if (_request.StdinOnce && !_request.Terminal) CloseStdin();
        }
        return output;
    }

    void CloseStdin()
    {
        lock (_lock)
        {
            _stdin?.Dispose();
            _stdin = null;
        }
    }

    /// <summary>Client bytes to a process's stdin (or pty) until the client's EOF.</summary>
    static void CopyInput(Socket connection, Fd input)
    {
        var buffer = ReadBuffer(16 * 1024);
        try
        {
            for (;;)
            {
                int n = connection.Receive(buffer);
                if (n <= 0) return;
                Sys.WriteAll(input, buffer.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or LinuxException)
        {
            // The client or the process went away.
        }
    }

    static ControlRequest ReadRequest(Socket connection)
    {
        var line = new List<byte>(256);
        var one = new byte[1];
        for (;;)
        {
            if (connection.Receive(one) == 0) throw new IOException("the client closed the connection before its request line ended");
            if (one[0] == '\n') break;
            line.Add(one[0]);
            if (line.Count > 1 << 20) throw new MonitorRequestException("the request line is longer than 1 MiB");
        }
        return JsonSerializer.Deserialize(line.ToArray(), DriverJsonContext.Default.ControlRequest)
            ?? throw new MonitorRequestException("the request is null");
    }

    /// <summary>Sends one reply line; false (the connection is done).</summary>
    static byte[] ReplyLine(ControlReply reply) => [.. JsonSerializer.SerializeToUtf8Bytes(reply, DriverJsonContext.Default.ControlReply), (byte)'\n'];

    static bool Reply(Socket connection, ControlReply reply)
    {
        try
        {
            connection.Send(ReplyLine(reply));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client went away.
        }
        return false;
    }

    static void ReplyAndClose(Socket connection, ControlReply reply)
    {
        Reply(connection, reply);
        connection.Dispose();
    }
}

/// <summary>A request the monitor refuses; its text becomes the reply's Error.</summary>
sealed class MonitorRequestException(string message) : Exception(message);
