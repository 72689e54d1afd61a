namespace Berth.Runtime;

/// <summary>Reads /proc/PID/stat: the process state letter and its start time (to tell a reused pid apart).</summary>
public readonly record struct ProcStat(char State, ulong StartTime)
{
    public static ProcStat? Read(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // comm (field 2) may hold spaces and parentheses: the fields after it start after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state); starttime is field 22.
        return fields.Length > 19 && ulong.TryParse(fields[19], out ulong start) ? new ProcStat(fields[0][0], start) : null;
    }
}
