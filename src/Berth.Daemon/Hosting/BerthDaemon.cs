using System.Runtime.InteropServices;
using Berth.Daemon.Api;
using Berth.Daemon.Containers;
using Berth.Daemon.Images;
using Berth.Linux;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Berth.Daemon.Hosting;

/// <summary>
/// berthd's life: lock the data root, bind the socket, serve until SIGTERM/SIGINT, then stop accepting,
/// let in-flight requests finish (up to <see cref="ShutdownTimeout"/>), and remove the socket and pid file.
/// </summary>
public sealed class BerthDaemon(DaemonOptions options, DaemonLog log)
{
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The backend the image endpoints use: the image store under the data root unless replaced.</summary>
    public Func<DaemonOptions, IImageBackend> ImageBackendFactory { get; init; } = o => new ImageBackend(o.DataRoot);

    IImageBackend? _backend;
    ContainerService? _containers;

    /// <summary>Runs to the end; the exit code (0 after a clean shutdown).</summary>
    public async Task<int> RunAsync()
    {
        string socketPath = options.Host.SocketPath;
        try
        {
            CreateDirectory(options.DataRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            CreateDirectory(options.ExecRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Error("cannot create the daemon's directories", ("error", e.Message));
            return 1;
        }

        DataRootLock dataLock;
        try
        {
            dataLock = DataRootLock.Acquire(options.DataRoot, options.LockFile);
        }
        catch (Exception e) when (e is DataRootInUseException or LinuxException)
        {
            log.Error("cannot start berthd", ("error", e.Message));
            return 1;
        }

        using (dataLock)
        {
            WebApplication app;
            PosixSignalRegistration? sigterm = null, sigint = null;
            try
            {
                File.WriteAllText(options.PidFile, Environment.ProcessId + "\n");
                ApiSocket.Prepare(socketPath, log);
                app = Build(socketPath);
                // Our own handlers, registered before the socket exists so no signal can come first: the
                // host's lifetime alone leaves SIGTERM to the runtime's default (exit 143), and a parent may
                // have started us with SIGINT ignored (a shell's background job).
                var lifetime = app.Lifetime;
                void Stop(PosixSignalContext signal)
                {
                    signal.Cancel = true;
                    log.Info("received signal, stopping", ("signal", signal.Signal));
                    lifetime.StopApplication();
                }
                sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
                sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
                uint previous = Libc.umask(0b001_111_111);
                try
                {
                    await app.StartAsync();
                }
                finally
                {
                    Libc.umask(previous);
                }
                File.SetUnixFileMode(socketPath, ApiSocket.Mode);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or LinuxException
                or InvalidDataException)
            {
                log.Error("cannot start berthd", ("error", e.Message));
                sigterm?.Dispose();
                sigint?.Dispose();
                ApiSocket.Remove(options.PidFile);
                (_backend as IDisposable)?.Dispose();
                return 1;
            }

            log.Info("API listening", ("socket", "unix://" + socketPath), ("data-root", options.DataRoot), ("exec-root", options.ExecRoot),
                ("pid", Environment.ProcessId));
            try
            {
                await app.WaitForShutdownAsync();
                // No container is started any more: back-offs end, health checks stop (the containers keep running).
                _containers?.Shutdown();
                log.Info("shutting down: waiting for requests in flight", ("timeout", ShutdownTimeout));
                await app.DisposeAsync();
            }
            finally
            {
                sigterm?.Dispose();
                sigint?.Dispose();
                ApiSocket.Remove(socketPath);
                ApiSocket.Remove(options.PidFile);
                (_backend as IDisposable)?.Dispose();
            }
            log.Info("daemon shutdown complete");
            return 0;
        }
    }

    WebApplication Build(string socketPath)
    {
        var host = HostFacts.Detect();
        var engine = EngineInfo.Detect();
        var backend = _backend = ImageBackendFactory(options);
        var drivers = options.DriversOrDefault();
        List<string> warnings = [];
        var events = new Events.EventBus();
        if (backend is ImageBackend store) store.Events = events;
        var containers = _containers = backend is ImageBackend images ? new ContainerService(options, images, Runner(drivers), drivers, log, events) : null;
        var context = new DaemonContext(options, host, engine, EngineId.LoadOrCreate(options.EngineIdFile), backend, log, warnings)
        {
            Containers = containers,
            Execs = containers is null ? null : new ExecService(containers),
            Events = events,
        };

        // No reload on change: the host's default watches its content root (the data root) with inotify, every
        // directory in it, layers' and containers' alike, at a thread's work for each file a start or removal makes.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = options.DataRoot,
        });
        // berthd writes its own log lines; the framework's console logger would add a second format.
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // load and import bodies are whole image tars.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.ListenUnixSocket(socketPath, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(next => async connection =>
                {
                    await ExecStartBody.HoistAsync(connection);
                    await next(new HalfCloseConnection(connection));
                });
            });
        });
        var app = builder.Build();
        var handlers = new ApiHandlers(context);
        app.Run(handlers.HandleAsync);
        return app;
    }

    /// <summary>A berth-monitor per container, the monitor binary beside berthd's.</summary>
    IContainerRunner Runner(ExecDriverTable drivers) => new MonitorRunner(MonitorRunner.BesideDaemon(), options.ExecRoot, drivers);

    static void CreateDirectory(string path, UnixFileMode mode)
    {
        if (!Directory.Exists(path)) Directory.CreateDirectory(path, mode);
    }
}
