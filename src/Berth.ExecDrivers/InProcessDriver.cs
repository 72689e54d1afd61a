using Berth.Linux;
using Berth.Runtime;
using Berth.Runtime.State;

namespace Berth.ExecDrivers;

/// <summary>
/// Berth.Runtime in this process, as berth-runtime's commands call it (ContainerFactory, Container, ExecProcess), with
/// <paramref name="stateRoot"/> as its state root. No runtime binary is forked: init re-executes the running binary
/// with `init`, so a process that calls <see cref="Create"/> or <see cref="Exec"/> must be one whose Main dispatches
/// `init` to ContainerInit.Run and that links the spawn stage (berth-monitor, berth-runtime).
/// </summary>
public sealed class InProcessDriver(string stateRoot, Action<string>? warn = null) : IExecDriver
{
    /// <summary>The spawn stage gives a child this process's fds 0-2: they are pointed at the caller's stdio for the
    /// length of a create or an exec, one at a time.</summary>
    static readonly Lock StdioLock = new();

    readonly StateStore _store = new(stateRoot);
    readonly Action<string> _warn = warn ?? (_ => { });

    public string Name => "berth";

    ContainerFactory Factory => new(_store, _warn);

    public int Create(string id, string bundle, DriverStdio stdio) => Run(() =>
    {
        Directory.CreateDirectory(_store.Root);
        using var redirect = StdioRedirect.Apply(stdio);
        using var container = Factory.Create(id, bundle, new CreateOptions { ConsoleSocket = stdio.ConsoleSocket });
        return container.State.InitPid;
    });

    public void Start(string id) => Run(() =>
    {
        using var container = Factory.Load(id);
        container.Start(_warn);
        return 0;
    });

    public void Signal(string id, int signal, bool all) => Run(() =>
    {
        using var container = Factory.Load(id);
        container.Signal(signal, all);
        return 0;
    });

    public void Delete(string id, bool force) => Run(() =>
    {
        ContainerId.Validate(id);
        if (!force)
        {
            using var container = Factory.Load(id);
            container.Delete(force: false, _warn);
            return 0;
        }
        // As `berth-runtime delete --force`: a container that is gone already is deleted.
        if (!Directory.Exists(_store.DirFor(id)) || _store.RemoveStaleClaim(id)) return 0;
        using var existing = Factory.TryLoad(id);
        existing?.Delete(force: true, _warn);
        return 0;
    });

    public void Pause(string id) => WithContainer(id, c => c.Pause());
    public void Resume(string id) => WithContainer(id, c => c.Resume());
    public void Update(string id, Oci.LinuxResources resources) => WithContainer(id, c => c.Update(resources, _warn));

    public IReadOnlyList<int> Pids(string id) => Run(() =>
    {
        using var container = Factory.Load(id);
        return container.Pids();
    });

    public Cgroups.CgroupStats Stats(string id) => Run(() =>
    {
        using var container = Factory.Load(id);
        return container.Stats();
    });

    public int Exec(string id, Oci.Process process, DriverStdio stdio) => Run(() =>
    {
        using var redirect = StdioRedirect.Apply(stdio);
        using var container = Factory.Load(id);
        var started = ExecProcess.Start(container, _store, new ExecOptions
        {
            Process = process,
            Source = "exec",
            ConsoleSocket = stdio.ConsoleSocket,
            ReportsPid = true,
        }, _warn);
        return started.Pid;
    });

    void WithContainer(string id, Action<Container> action) => Run(() =>
    {
        using var container = Factory.Load(id);
        action(container);
        return 0;
    });

    static T Run<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (e is ContainerException or LinuxException or Oci.SpecException or Cgroups.CgroupException
                                   or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ExecDriverException(e.Message, e);
        }
    }

    /// <summary>This process's fds 0-2 pointed at a child's stdio until disposed (under <see cref="StdioLock"/>).</summary>
    sealed class StdioRedirect : IDisposable
    {
        readonly List<(int Target, Fd Saved)> _saved = [];
        bool _locked;

        public static StdioRedirect Apply(DriverStdio stdio)
        {
            var redirect = new StdioRedirect();
            int[] fds = [stdio.Stdin, stdio.Stdout, stdio.Stderr];
            if (fds.All(f => f < 0)) return redirect;
            StdioLock.Enter();
            redirect._locked = true;
            try
            {
                for (int target = 0; target < 3; target++)
                {
                    if (fds[target] < 0) continue;
                    int saved = Libc.fcntl(target, Libc.F_DUPFD_CLOEXEC, 3);
                    if (saved < 0) throw LinuxException.FromLastError("fcntl(F_DUPFD_CLOEXEC)", $"fd {target}");
                    redirect._saved.Add((target, new Fd(saved)));
                    if (Libc.dup3(fds[target], target, 0) < 0) throw LinuxException.FromLastError("dup3", $"fd {target}");
                }
                return redirect;
            }
            catch
            {
                redirect.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            foreach (var (target, saved) in _saved)
            {
                Libc.dup3(saved.Value, target, 0);
                saved.Dispose();
            }
            _saved.Clear();
            if (_locked) StdioLock.Exit();
            _locked = false;
        }
    }
}
