using Berth.ExecDrivers;
using Berth.Linux;

namespace Berth.Monitor;

/// <summary>
/// Pipes for a process's stdio (stdin only when asked: /dev/null otherwise). <see cref="Run"/> hands the child's ends to
/// the driver and closes ours of them, so that EOF comes when the process's side is closed everywhere; our ends are
/// the caller's afterwards, and are closed on dispose only when the driver failed.
/// </summary>
sealed class StdioPipes : IDisposable
{
    readonly (Fd Read, Fd Write) _out = Sys.Pipe(), _err = Sys.Pipe();
    readonly (Fd Read, Fd Write)? _in;
    bool _handedOver;

    public StdioPipes(bool stdin) => _in = stdin ? Sys.Pipe() : null;

    public Fd? Stdin => _in?.Write;
    public Fd Stdout => _out.Read;
    public Fd Stderr => _err.Read;

    public int Run(Func<DriverStdio, int> start)
    {
        try
        {
            int pid = start(DriverStdio.Pipes(_in?.Read.Value ?? -1, _out.Write.Value, _err.Write.Value));
            _handedOver = true;
            return pid;
        }
        finally
        {
            _out.Write.Dispose();
            _err.Write.Dispose();
            _in?.Read.Dispose();
        }
    }

    public void Dispose()
    {
        if (_handedOver) return;
        _out.Read.Dispose();
        _err.Read.Dispose();
        _in?.Write.Dispose();
    }
}
