namespace Berth.Runtime;

/// <summary>
/// Signal names and numbers as `kill` accepts them: "KILL", "SIGKILL", "9", and "0", which as with kill(2) only checks
/// that the process exists (runc passes it on too).
/// </summary>
public static class Signals
{
    static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM",
        "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    const int SigRtMin = 34, SigRtMax = 64;

    public static int Parse(string text)
    {
        if (int.TryParse(text, out int n))
        {
            if (n is >= 0 and <= SigRtMax && (n < Names.Length || n >= SigRtMin)) return n;
            throw new ArgumentException($"unknown signal {text}: numbers are 0-31 and {SigRtMin}-{SigRtMax}");
        }
        string name = text.ToUpperInvariant();
        if (name.StartsWith("SIG", StringComparison.Ordinal)) name = name[3..];
        int index = Array.IndexOf(Names, name);
        if (index > 0) return index;
        if (name == "IOT") return 6;
        if (name == "POLL") return 29;
        if (name.StartsWith("RTMIN", StringComparison.Ordinal) && Offset(name[5..]) is { } a && SigRtMin + a <= SigRtMax) return SigRtMin + a;
        if (name.StartsWith("RTMAX", StringComparison.Ordinal) && Offset(name[5..]) is { } b && SigRtMax + b >= SigRtMin) return SigRtMax + b;
        throw new ArgumentException($"unknown signal \"{text}\"");
    }

    static int? Offset(string s) => s.Length == 0 ? 0 : int.TryParse(s, out int v) ? v : null;
}
