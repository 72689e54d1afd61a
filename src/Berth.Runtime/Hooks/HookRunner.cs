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
            string? failure = RunOne(hooks[i], input);
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
                if (RunOne(hooks[i], input) is { } failure) warn($"{stage} hook #{i} ({hooks[i].Path}) failed: {failure}");
            }
            catch (Exception e) when (e is ContainerException or LinuxException or IOException)
            {
                warn($"{stage} hook #{i} ({hooks[i].Path}) failed: {e.Message}");
            }
        }
    }

    /// <summary>Null on success, else what went wrong, with the hook's output.</summary>
    static string? RunOne(Hook hook, byte[] stateJson)
    {
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
            try
            {
                Sys.WriteAll(inWrite, stateJson);
            }
            catch (LinuxException e) when (e.Errno == Errno.EPIPE)
            {
                // The hook did not read its stdin: its business.
            }
            inWrite.Dispose();

            var deadline = hook.Timeout is > 0 ? DateTime.UtcNow.AddSeconds(hook.Timeout.Value) : (DateTime?)null;
            string output = ReadOutput(outRead, deadline, out bool timedOut);
            if (timedOut) Libc.kill(pid, Libc.SIGKILL);
            Libc.waitpid(pid, out int status, 0);
            if (timedOut) return $"timed out after {hook.Timeout} s{Describe(output)}";
            if (status != 0) return $"{WaitStatus.Describe(status).Trim(' ', '(', ')')}{Describe(output)}";
            return null;
        }
    }

    static string Describe(string output) => output.Length == 0 ? "" : $": {output.Trim()}";

    static string ReadOutput(Fd fd, DateTime? deadline, out bool timedOut)
    {
        var text = new MemoryStream();
        Span<byte> buffer = stackalloc byte[4096];
        timedOut = false;
        for (;;)
        {
            int wait = deadline is { } d ? (int)Math.Max(0, (d - DateTime.UtcNow).TotalMilliseconds) : -1;
            if (!Sys.WaitReadable(fd, wait))
            {
                timedOut = true;
                break;
            }
            int n = Sys.Read(fd, buffer);
            if (n == 0) break;
            if (text.Length < OutputLimit) text.Write(buffer[..n]);
        }
        return Encoding.UTF8.GetString(text.ToArray());
    }
}
