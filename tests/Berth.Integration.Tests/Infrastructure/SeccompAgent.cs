using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Berth.Linux;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// A seccomp agent in the test process, listening at a linux.seccomp.listenerPath: it accepts the runtime's one
/// connection, keeps the container process state (JSON) and the notify fd that came with it, then answers every
/// notification with <see cref="Answer"/> until the container's filter is gone.
/// </summary>
public sealed unsafe class SeccompAgent : IDisposable
{
    readonly Socket _listener;
    readonly Thread _thread;
    readonly TaskCompletionSource<JsonObject> _state = new(TaskCreationOptions.RunContinuationsAsynchronously);
    volatile bool _stopping;
    int _notifications;

    /// <param name="answer">Given the syscall number, returns the syscall's result and errno (0: the result stands).</param>
    public SeccompAgent(string path, Func<int, (long Value, int Errno)> answer)
    {
        Path = path;
        Answer = answer;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(4);
        _thread = new Thread(Serve) { IsBackground = true, Name = "seccomp agent" };
        _thread.Start();
    }

    public string Path { get; }
    public Func<int, (long Value, int Errno)> Answer { get; }

    /// <summary>How many notifications were answered.</summary>
    public int Notifications => Volatile.Read(ref _notifications);

    /// <summary>Anything that went wrong in the agent's thread.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>The container process state the runtime sent first (init's), or a timeout.</summary>
    public JsonObject ReceivedState(TimeSpan timeout) =>
        _state.Task.Wait(timeout) ? _state.Task.Result : throw new TimeoutException($"no container process state arrived at {Path}" + (Failure is null ? "" : $": {Failure.Message}"));

    /// <summary>Every state received so far, in order: init's, then one per exec'd process with its own filter.</summary>
    public IReadOnlyList<JsonObject> States
    {
        get { lock (_states) return [.. _states]; }
    }

    readonly List<JsonObject> _states = [];

    // One connection per process whose filter has a listener: init's, then each exec'd process's. Each fd is
    // answered on its own thread until no task uses its filter any more.
    void Serve()
    {
        try
        {
            while (!_stopping)
            {
                var connection = _listener.Accept();
                var buffer = new byte[64 << 10];
                (Fd Fd, int Length) received;
                using (connection)
                {
                    received = UnixSocket.ReceiveFd(new Fd((int)connection.Handle, owns: false), buffer)
                        ?? throw new IOException("the runtime closed the connection without sending anything");
                }
                var state = JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, received.Length))!.AsObject();
                lock (_states) _states.Add(state);
                _state.TrySetResult(state);
                var notifyFd = received.Fd;
                new Thread(() =>
                {
                    using (notifyFd) AnswerUntilHangUp(notifyFd.Value);
                }) { IsBackground = true, Name = "seccomp agent fd" }.Start();
            }
        }
        catch (Exception e) when (!_stopping)
        {
            Failure = e;
            _state.TrySetException(e);
        }
        catch (Exception)
        {
            // Disposed while accepting: the test is over.
        }
    }

    void AnswerUntilHangUp(int fd)
    {
        while (!_stopping)
        {
            var poll = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            if (Libc.poll(&poll, 1, 100) <= 0) continue;
            if ((poll.Revents & Libc.POLLIN) == 0) return; // POLLHUP: no task uses the filter any more
            var notif = default(Libc.SeccompNotif);
            if (Libc.seccomp_notif_recv(fd, &notif) < 0) continue; // ENOENT: the caller died in between
            var (value, errno) = Answer(notif.Data.Nr);
            var resp = new Libc.SeccompNotifResp { Id = notif.Id, Val = value, Error = -errno };
            if (Libc.seccomp_notif_send(fd, &resp) == 0) Interlocked.Increment(ref _notifications);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
        _thread.Join(TimeSpan.FromSeconds(5));
        File.Delete(Path);
    }
}
