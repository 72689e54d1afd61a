using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;

namespace Berth.Runtime;

/// <summary>
/// Reads /proc/PID/stat: the process state letter, its start time (to tell a reused pid apart), and the exit status
/// of its main thread (field 52, in waitpid's form; meaningful once that thread exited).
/// </summary>
public readonly record struct ProcStat(char State, ulong StartTime, int ExitCode = 0)
{
    public static ProcStat? Read(int pid)
    {
        if (ReadText($"/proc/{pid}/stat") is not { } text) return null;
        // comm (field 2) may hold spaces and parentheses: the fields after it start after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length) return null;
        var fields = text[(close + 2)..].TrimEnd().Split(' ');
        // fields[0] is field 3 (state); starttime is field 22, exit_code field 52.
        if (fields.Length <= 19 || !ulong.TryParse(fields[19], out ulong start)) return null;
        int exitCode = fields.Length > 49 && int.TryParse(fields[49], out int code) ? code : 0;
        return new ProcStat(fields[0][0], start, exitCode);
    }

    /// <summary>
    /// The file's text, or null when it cannot be read. With open(2) and read(2), not File.ReadAllText: its FileStream
    /// and StreamReader, and the exception it throws when the process is gone (every `run` reads its exited init's),
    /// were 2% of the CLI's samples in a `run` (perf, 40 runs).
    /// </summary>
    static unsafe string? ReadText(string path)
    {
        int fd = Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0) return null;
        try
        {
            // 52 fields of at most 20 digits and a 16-byte comm fit; a longer line is cut, as a short read would cut it.
            const int Size = 2048;
            byte* buffer = stackalloc byte[Size];
            int length = 0;
            while (length < Size)
            {
                nint n = Libc.read(fd, buffer + length, Size - length);
                if (n == 0) break;
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Errno.EINTR) continue;
                    return null; // ESRCH: gone between the open and the read
                }
                length += (int)n;
            }
            return Encoding.UTF8.GetString(buffer, length);
        }
        finally
        {
            Libc.close(fd);
        }
    }
}

/// <summary>
/// Whether a process we have not reaped still has its main thread. A seccomp filter that kills the calling thread
/// (SCMP_ACT_KILL) ends only init's main thread, while the runtime's other threads (.NET's finalizer) keep the
/// process, its fds and the init channel alive: nothing would then ever report or exit.
/// </summary>
public static class LeaderState
{
    const int SIGSYS = 31;

    /// <summary>Null while the main thread lives (or the process is just exiting); else what happened to it.</summary>
    public static string? Describe(int pid)
    {
        var stat = ProcStat.Read(pid);
        if (stat is null) return null;
        if (stat.Value.State is not ('Z' or 'X')) return null;
        int others;
        try
        {
            others = Directory.GetDirectories($"/proc/{pid}/task").Length - 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (others <= 0) return null; // a whole process exiting: waitpid will tell
        int signal = stat.Value.ExitCode & 0x7f;
        string cause = signal == SIGSYS
            ? "killed by SIGSYS: the seccomp profile killed it at one of the runtime's own calls"
            : signal != 0 ? $"killed by signal {signal}" : $"exited with status {(stat.Value.ExitCode >> 8) & 0xff}";
        return $"lost its main thread ({cause}) while {others} other thread(s) of the runtime lived on";
    }
}
