using System.CommandLine;
using System.Runtime.InteropServices;
using Berth.Linux;
using Berth.Runtime.Terminal;

namespace Berth.Runtime.Cli.Commands;

/// <summary>
/// `run`: create + start. In the foreground it forwards signals to the container, waits for it, deletes it, and
/// exits with its status (128+signal when a signal killed it); with -d it returns once the container runs.
/// </summary>
internal static class RunCommand
{
    static readonly int[] Forwarded = [Libc.SIGHUP, Libc.SIGINT, Libc.SIGQUIT, Libc.SIGUSR1, 12 /* SIGUSR2 */, Libc.SIGTERM, Libc.SIGWINCH];

    public static Command Build(GlobalOptions g)
    {
        var o = new CreateOptionsSet();
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var keep = new Option<bool>("--keep") { Description = "do not delete the container after it exits" };
        var c = new Command("run", "create and run a container");
        o.AddTo(c);
        c.Options.Add(detach);
        c.Options.Add(keep);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            var factory = new ContainerFactory(store, log.Warn);
            string id = p.GetValue(o.Id)!;
            bool background = p.GetValue(detach);
            int status;
            // The spawn stage may fork once more (joined PID namespace): as a subreaper we still reap init.
            if (!background) Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            int pid;
            TerminalRelay? relay = null;
            // In the foreground, from the start: a SIGTERM that arrives while the container is being created must not
            // end the runtime and leave a running container behind; it reaches the container once it runs (runc's
            // signal handler is installed before its create too).
            using var forwarder = background ? null : new SignalForwarder(Forwarded);
            try
            {
                using (var container = factory.Create(id, p.GetValue(o.Bundle)!, o.From(p, foreground: !background)))
                {
                    if (container.ConsoleReceiver is { } receiver)
                    {
                        // Received before start: init sent the master before it said "ready".
                        var (master, _) = receiver.ReceiveMaster();
                        relay = TerminalRelay.Start(master);
                    }
                    container.Start(log.Warn);
                    pid = container.State.InitPid;
                }
                if (background) return 0;

                // With a relayed terminal, SIGWINCH becomes a resize of the pty (the relay's), not a signal.
                forwarder!.Started(pid, resizeIsTheRelays: relay is not null);
                status = WaitFor(pid);
                if (relay is not null && !relay.WaitForOutput(TimeSpan.FromSeconds(5)))
                    log.DebugLine($"{id}: the terminal stayed open after the container exited; output after this is lost");
            }
            finally
            {
                relay?.Dispose();
            }

            if (!p.GetValue(keep))
            {
                try
                {
                    using var stopped = factory.Load(id);
                    stopped.Delete(force: false, log.Warn);
                }
                catch (ContainerException e)
                {
                    log.DebugLine($"deleting {id} after it exited: {e.Message}");
                }
            }
            return WaitStatus.ToExitCode(status);
        }));
        return c;
    }

    static int WaitFor(int pid)
    {
        for (;;)
        {
            int r = Libc.waitpid(pid, out int status, 0);
            if (r == pid) return status;
            var e = LinuxException.FromLastError("waitpid", $"pid {pid}");
            if (e.Errno != Errno.EINTR) throw e;
        }
    }
}

/// <summary>
/// Forwards signals to the container's init: those that arrive before it runs are kept and delivered once it does,
/// so that the runtime itself never dies of them halfway through a foreground `run`.
/// </summary>
internal sealed class SignalForwarder : IDisposable
{
    readonly object _gate = new();
    readonly List<PosixSignalRegistration> _registrations;
    readonly List<int> _pending = [];
    int _pid;
    bool _resizeIsTheRelays;

    public SignalForwarder(IEnumerable<int> signals) =>
        _registrations = signals.Select(sig => PosixSignalRegistration.Create((PosixSignal)sig, ctx =>
        {
            ctx.Cancel = true;
            Deliver(sig);
        })).ToList();

    void Deliver(int sig)
    {
        lock (_gate)
        {
            if (_pid == 0) _pending.Add(sig);
            else if (sig != Libc.SIGWINCH || !_resizeIsTheRelays) Libc.kill(_pid, sig);
        }
    }

    /// <summary>From now on signals go to <paramref name="pid"/>, the kept ones first, in the order they came.</summary>
    public void Started(int pid, bool resizeIsTheRelays)
    {
        lock (_gate)
        {
            _pid = pid;
            _resizeIsTheRelays = resizeIsTheRelays;
            foreach (int sig in _pending)
                if (sig != Libc.SIGWINCH || !resizeIsTheRelays) Libc.kill(pid, sig);
            _pending.Clear();
        }
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
