namespace Berth.Runtime.Cli;

/// <summary>
/// runc stops reading its own flags at the first word of the command, so `exec ID sh -c 'ls -l'` runs `sh -c ...`
/// (its -c is not runc's --cap). System.CommandLine would take -c as ours: a "--" is inserted before the command.
/// </summary>
public static class ExecArguments
{
    // Flags followed by a value (global ones included, which may stand anywhere).
    static readonly HashSet<string> TakesValue = new(StringComparer.Ordinal)
    {
        "--root", "--log", "--log-format",
        "--process", "-p", "--console-socket", "--cwd", "--env", "-e", "--user", "-u", "--additional-gids", "-g",
        "--pid-file", "--process-label", "--apparmor", "--cap", "-c", "--preserve-fds", "--cgroup",
    };

    public static string[] SeparateCommand(string[] args)
    {
        int i = SkipOptions(args, 0);
        if (i >= args.Length || args[i] != "exec") return args;
        i = SkipOptions(args, i + 1);          // exec's flags before the id
        if (i >= args.Length || args[i - 1] == "--") return args;
        i = SkipOptions(args, i + 1);          // and between the id and the command
        if (i >= args.Length || args[i - 1] == "--") return args;
        return [.. args[..i], "--", .. args[i..]];
    }

    /// <summary>The index of the first word at or after <paramref name="i"/> that is not a flag or a flag's value.</summary>
    static int SkipOptions(string[] args, int i)
    {
        while (i < args.Length && args[i].StartsWith('-') && args[i] != "-")
        {
            if (args[i] == "--") return i + 1;
            bool inlineValue = args[i].Contains('=');
            i += !inlineValue && TakesValue.Contains(args[i]) ? 2 : 1;
        }
        return i;
    }
}
