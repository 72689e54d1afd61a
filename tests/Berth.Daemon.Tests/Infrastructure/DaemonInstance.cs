using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>
/// A real berthd on a temp socket with temp data and exec roots, started from the built binary.
/// Dispose stops it (SIGTERM, then SIGKILL after 10 s) and deletes the temp directory.
/// </summary>
public sealed class DaemonInstance : IDisposable
{
    readonly StringBuilder _stderr = new();
    readonly bool _ownsRoot;

    public string Root { get; }
    public string DataRoot => Path.Combine(Root, "data");
    public string ExecRoot => Path.Combine(Root, "exec");
    public string Socket => Path.Combine(Root, "berth.sock");
    public string Host => "unix://" + Socket;
    public Process Process { get; private set; } = null!;

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>
    /// The log so far once it contains <paramref name="text"/>, or after <paramref name="timeout"/>: the daemon's stderr
    /// reaches us through an asynchronous reader, so a line written before the socket answered may still be on its way.
    /// </summary>
    public string LogContaining(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        string log;
        while (!(log = Stderr).Contains(text, StringComparison.Ordinal) && deadline.Elapsed < timeout)
            Thread.Sleep(20);
        return log;
    }

    DaemonInstance(string root, bool ownsRoot)
    {
        Root = root;
        _ownsRoot = ownsRoot;
    }

    /// <summary>Starts berthd and waits until its socket accepts connections.</summary>
    public static DaemonInstance Start(string? root = null, params string[] extraArgs) => StartIn(null, root, extraArgs);

    /// <summary>Starts berthd in the network namespace kept at <paramref name="netns"/> (nsenter --net; the host's when null).</summary>
    public static DaemonInstance StartIn(string? netns, string? root = null, params string[] extraArgs)
    {
        bool owns = root is null;
        root ??= Directory.CreateTempSubdirectory("berthd-test-").FullName;
        var daemon = new DaemonInstance(root, owns);
        daemon.Launch(netns, extraArgs);
        daemon.WaitReady();
        return daemon;
    }

    /// <summary>Starts berthd with <paramref name="args"/> as given (no defaults) and waits for it to exit.</summary>
    public static ProcessResult RunToExit(params string[] args) => Tools.Run(Tools.Berthd, args, timeoutSeconds: 30);

    void Launch(string? netns, string[] extraArgs)
    {
        // nsenter execs berthd in the same process: the pid, signals and exit code are berthd's.
        var info = new ProcessStartInfo(netns is null ? Tools.Berthd : "nsenter")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        string[] prefix = netns is null ? [] : ["--net=" + netns, "--", Tools.Berthd];
        foreach (string a in (string[])[.. prefix, "--data-root", DataRoot, "--exec-root", ExecRoot, "-H", Host, "--log-level", "debug", .. extraArgs])
            info.ArgumentList.Add(a);
        Process = Process.Start(info)!;
        Process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data);
        };
        Process.OutputDataReceived += (_, _) => { };
        Process.BeginErrorReadLine();
        Process.BeginOutputReadLine();
    }

    void WaitReady()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (Process.HasExited)
                throw new InvalidOperationException($"berthd exited with {Process.ExitCode} before listening:\n{Stderr}");
            if (File.Exists(Socket) && CanConnect(Socket)) return;
            Thread.Sleep(25);
        }
        throw new TimeoutException($"berthd did not listen on {Socket} within 20 s:\n{Stderr}");
    }

    public static bool CanConnect(string path)
    {
        using var socket = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Sends SIGTERM and waits; the exit code, or null when it did not exit in time.</summary>
    public int? Terminate(TimeSpan wait)
    {
        if (Process.HasExited) return Process.ExitCode;
        Berth.Linux.Libc.kill(Process.Id, 15);
        if (!Process.WaitForExit(wait)) return null;
        Process.WaitForExit(); // drain the stderr reader
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited && Terminate(TimeSpan.FromSeconds(10)) is null)
        {
            Process.Kill();
            Process.WaitForExit();
        }
        Process.Dispose();
        if (_ownsRoot)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>One daemon shared by the read-only tests of a class.</summary>
public sealed class SharedDaemon : IDisposable
{
    readonly Lazy<DaemonInstance> _daemon = new(() => DaemonInstance.Start());

    public DaemonInstance Daemon => _daemon.Value;

    public void Dispose()
    {
        if (_daemon.IsValueCreated) _daemon.Value.Dispose();
    }
}
