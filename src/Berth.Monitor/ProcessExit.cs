using Berth.Linux;

namespace Berth.Monitor;

/// <summary>Waiting for a process the monitor is parent (or subreaper) of.</summary>
static class ProcessExit
{
    /// <summary>Blocks until <paramref name="pid"/> exits, reaps it and returns its exit code (128+signal for a signal).
    /// A process an OCI binary started reaches us when its intermediate parent exits: ECHILD is retried for a while.</summary>
    public static int Wait(int pid)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        for (;;)
        {
            if (Libc.waitpid(pid, out int status, 0) == pid) return Runtime.WaitStatus.ToExitCode(status);
            var e = LinuxException.FromLastError("waitpid", $"pid {pid}");
            if (e.Errno == Errno.EINTR) continue;
            if (e.Errno != Errno.ECHILD || DateTime.UtcNow > deadline) return WaitForeign(pid);
            Thread.Sleep(10);
        }
    }

    /// <summary>A process that never became ours: its end is seen through a pidfd, its status cannot be.</summary>
    static int WaitForeign(int pid)
    {
        try
        {
            using var pidfd = Sys.PidfdOpen(pid);
            while (!Sys.WaitReadable(pidfd, 60_000)) { }
        }
        catch (LinuxException)
        {
            // Gone already.
        }
        return 255;
    }
}
