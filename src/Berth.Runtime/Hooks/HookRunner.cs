using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Berth.Linux;
using Berth.Oci;

namespace Berth.Runtime;

/// <summary>
/// Runs OCI hooks (config.md "POSIX-platform Hooks"): each hook's path is executed with its args (args[0] is
/// argv[0], which multi-call binaries such as dockerd's libnetwork-setkey rely on) and env, the container's state
/// JSON on stdin, and a timeout. Hooks run through the spawn stage without namespaces, because .NET's Process
/// cannot set argv[0]. A failure carries the hook's exit status and output.
/// </summary>
public static unsafe class HookRunner
{
    const int OutputLimit = 64 << 10;

    /// <summary>Runs the hooks in order; the first failure throws (prestart, createRuntime, createContainer, startContainer).</summary>
    public static void Run(string stage, IReadOnlyList<Hook>? hooks, Oci.State state)
    {
        if (hooks is null) return;
        byte[] input = JsonSerializer.SerializeToUtf8Bytes(state, OciJsonContext.Default.State);
        for (int i = 0; i < hooks.Count; i++)
        {
            string? failure = RunOne(stage, i, hooks[i], input);
            if (failure is not null) throw new ContainerException($"{stage} hook #{i} ({hooks[i].Path}) failed: {failure}");
        }
    }

    /// <summary>Runs every hook; failures are warnings (poststart, poststop), as the spec says.</summary>
    public static void RunAll(string stage, IReadOnlyList<Hook>? hooks, Oci.State state, Action<string> warn)
    {
        if (hooks is null) return;
        byte[] input = JsonSerializer.SerializeToUtf8Bytes(state, OciJsonContext.Default.State);
        for (int i = 0; i < hooks.Count; i++)
        {
            try
            {
                if (RunOne(stage, i, hooks[i], input) is { } failure) warn($"{stage} hook #{i} ({hooks[i].Path}) failed: {failure}");
            }
            catch (Exception e) when (e is ContainerException or LinuxException or IOException)
            {
                warn($"{stage} hook #{i} ({hooks[i].Path}) failed: {e.Message}");
            }
        }
    }

    /// <summary>Null on success, else what went wrong, with the hook's output.</summary>
    static string? RunOne(string stage, int index, Hook hook, byte[] stateJson)
    {
        DebugLog.Write($"{stage} hook #{index} {hook.Path}{(hook.Timeout is { } t ? $" (timeout {t} s)" : "")}");
        if (!hook.Path.StartsWith('/')) return "the hook path must be absolute";
        var (inRead, inWrite) = Sys.Pipe();
        var (outRead, outWrite) = Sys.Pipe();
        var (sync, childSync) = Sys.SocketPair();
        var (errRead, errWrite) = Sys.Pipe();
        using var native = new NativeStrings();
        int pid;
        try
        {
            var args = hook.Args is { Count: > 0 } a ? a : [hook.Path];
            var request = new SpawnRequest
            {
                ExecFd = -1, // by path: a script's interpreter must be able to open it
                ExecPath = native.String(hook.Path),
                SyncFd = childSync.Value,
                ErrorFd = errWrite.Value,
                KeepBelow = 3,
                StdinFd = inRead.Value,
                StdoutFd = outWrite.Value,
                StderrFd = outWrite.Value,
                Argv = native.Array(args),
                Envp = native.Array(hook.Env ?? []),
            };
            pid = Libc.berth_spawn(&request);
            if (pid < 0) return $"clone: {LinuxException.Describe(-pid)}";
        }
        finally
        {
            inRead.Dispose();
            outWrite.Dispose();
            childSync.Dispose();
            errWrite.Dispose();
        }

        using (sync)
        using (errRead)
        using (outRead)
        using (inWrite)
        {
            Span<byte> one = stackalloc byte[1];
            if (Sys.ReadExactly(sync, one)) Sys.WriteAll(sync, "g"u8);
            if (SpawnError.Read(errRead) is { } failed)
            {
                Libc.waitpid(pid, out _, 0);
                return failed.Stage == SpawnStage.Exec
                    ? $"exec {hook.Path}: {LinuxException.Describe(failed.Error)}"
                    : $"{SpawnFailure.What(failed, [], null)}: {LinuxException.Describe(failed.Error)}";
            }
            // The timeout runs from here: writing the state is part of the hook's time, and a hook that never reads a state
            // larger than a pipe holds must not block us before the clock starts (runc's deadline covers it too).
            long? deadline = hook.Timeout is > 0 ? Environment.TickCount64 + hook.Timeout.Value * 1000L : null;
            string output = Exchange(inWrite, stateJson, outRead, deadline, out bool timedOut);
            if (!timedOut) timedOut = !WaitForExit(pid, deadline);
            if (timedOut) Libc.kill(pid, Libc.SIGKILL);
            Libc.waitpid(pid, out int status, 0);
            if (timedOut) return $"timed out after {hook.Timeout} s{Describe(output)}";
            if (status != 0) return $"{WaitStatus.Describe(status).Trim(' ', '(', ')')}{Describe(output)}";
            return null;
        }
    }

    static string Describe(string output) => output.Length == 0 ? "" : $": {output.Trim()}";

    static int Remaining(long? deadline) => deadline is { } d ? (int)Math.Clamp(d - Environment.TickCount64, 0, int.MaxValue) : -1;

    /// <summary>
    /// Writes the state to the hook's stdin as the pipe takes it and reads its output, both until the hook closes its
    /// output or the deadline passes (false in <paramref name="timedOut"/> otherwise). A hook that stops reading only
    /// loses the rest of its stdin.
    /// </summary>
    static string Exchange(Fd stdin, byte[] input, Fd output, long? deadline, out bool timedOut)
    {
        var text = new MemoryStream();
        Span<byte> buffer = stackalloc byte[4096];
        Fd? writing = input.Length > 0 ? stdin : null;
        if (writing is not null && Libc.fcntl(stdin.Value, Libc.F_SETFL, Libc.fcntl(stdin.Value, Libc.F_GETFL, 0) | Libc.O_NONBLOCK) < 0)
            throw LinuxException.FromLastError("fcntl(F_SETFL, O_NONBLOCK)", "the hook's stdin");
        if (writing is null) stdin.Dispose();
        int written = 0;
        timedOut = false;
        var fds = stackalloc Libc.PollFd[2];
        for (;;)
        {
            fds[0] = new Libc.PollFd { Fd = output.Value, Events = Libc.POLLIN };
            fds[1] = new Libc.PollFd { Fd = writing?.Value ?? -1, Events = Libc.POLLOUT }; // a negative fd is skipped
            int n = Libc.poll(fds, 2, Remaining(deadline));
            if (n < 0)
            {
                var e = LinuxException.FromLastError("poll", "the hook's stdio");
                if (e.Errno == Errno.EINTR) continue;
                throw e;
            }
            if (n == 0)
            {
                timedOut = true;
                break;
            }
            if (fds[1].Revents != 0 && writing is not null)
            {
                fixed (byte* p = input)
                {
                    nint w = (fds[1].Revents & Libc.POLLOUT) != 0 ? Libc.write(writing.Value, p + written, input.Length - written) : -1;
                    if (w > 0) written += (int)w;
                    // EPIPE or POLLERR: the hook closed its stdin without reading it all, which is its business.
                    else if (w < 0 && Marshal.GetLastPInvokeError() is not (Errno.EAGAIN or Errno.EINTR) || fds[1].Revents != Libc.POLLOUT)
                        written = input.Length;
                }
                if (written == input.Length)
                {
                    writing.Dispose(); // EOF for the hook
                    writing = null;
                }
            }
            if (fds[0].Revents != 0)
            {
                int r = Sys.Read(output, buffer);
                if (r == 0) break;
                if (text.Length < OutputLimit) text.Write(buffer[..r]);
            }
        }
        writing?.Dispose();
        return Encoding.UTF8.GetString(text.ToArray());
    }

    /// <summary>Waits for the hook to exit (it closed its output, but may still run); false at the deadline.</summary>
    static bool WaitForExit(int pid, long? deadline)
    {
        if (deadline is null) return true; // waitpid blocks, as without a timeout the spec says to wait
        Fd pidfd;
        try
        {
            pidfd = Sys.PidfdOpen(pid);
        }
        catch (LinuxException)
        {
            return true; // startContainer hooks run under the container's seccomp profile, which may deny pidfd_open
        }
        using (pidfd) return Sys.WaitReadable(pidfd, Remaining(deadline));
    }
}
