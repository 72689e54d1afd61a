using System.CommandLine;

namespace Berth.Cli;

/// <summary>
/// docker stops reading its own flags at the container's command: in <c>run busybox sh -c 'x'</c> the <c>-c</c> is
/// the shell's. System.CommandLine reads flags anywhere, so a "--" is put where the command starts (after IMAGE for
/// run and create, after CONTAINER for exec) before parsing.
/// </summary>
public static class InterspersedArguments
{
    /// <summary>The verbs whose positionals after the first are the container's command, and how many positionals come first.</summary>
    static readonly Dictionary<string, int> Verbs = new(StringComparer.Ordinal) { ["run"] = 1, ["create"] = 1, ["exec"] = 1 };

    public static string[] Separate(string[] args, RootCommand root)
    {
        Command current = root;
        int i = 0;
        while (i < args.Length)
        {
            string token = args[i];
            if (token == "--") return args;
            if (token.StartsWith('-') && token.Length > 1)
            {
                i += Consumed(current, root, token, i + 1 < args.Length);
                continue;
            }
            var sub = current.Subcommands.FirstOrDefault(c => c.Name == token || c.Aliases.Contains(token));
            if (sub is null) return args;
            current = sub;
            i++;
            if (Verbs.TryGetValue(sub.Name, out int leading) && current.Parents.FirstOrDefault() is Command parent
                && (parent == root || parent.Name == "container"))
                return Split(args, i, current, root, leading);
        }
        return args;
    }

    static string[] Split(string[] args, int start, Command command, RootCommand root, int leading)
    {
        int positionals = 0;
        int i = start;
        while (i < args.Length)
        {
            string token = args[i];
            if (token == "--") return args;
            if (token.StartsWith('-') && token.Length > 1)
            {
                i += Consumed(command, root, token, i + 1 < args.Length);
                continue;
            }
            positionals++;
            i++;
            if (positionals == leading) return i < args.Length ? [.. args[..i], "--", .. args[i..]] : args;
        }
        return args;
    }

    /// <summary>How many tokens a flag token takes: 1, or 2 when its value is the next token.</summary>
    static int Consumed(Command command, RootCommand root, string token, bool hasNext)
    {
        if (token.Contains('=')) return 1;
        if (token.StartsWith("--", StringComparison.Ordinal))
            return Find(command, root, token) is { } option && TakesValue(option) && hasNext ? 2 : 1;
        // A short flag or a bundle (-it, -dit, -e): only the bundle's last letter can take the next token.
        for (int c = 1; c < token.Length; c++)
        {
            if (Find(command, root, "-" + token[c]) is not { } option || !TakesValue(option)) continue;
            return c == token.Length - 1 && hasNext ? 2 : 1;
        }
        return 1;
    }

    static Option? Find(Command command, RootCommand root, string name) =>
        command.Options.Concat(root.Options).FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));

    static bool TakesValue(Option option) => option.ValueType != typeof(bool) && option.ValueType != typeof(bool?);
}
