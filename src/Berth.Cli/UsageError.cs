using System.CommandLine;
using System.CommandLine.Parsing;

namespace Berth.Cli;

/// <summary>
/// A command line that does not parse, reported as docker does: an unknown flag exits 125 (cobra's flag
/// error), a wrong number of arguments exits 1 ("requires 2 arguments"); both point at --help.
/// </summary>
public static class UsageError
{
    public const int FlagError = 125, ArgumentError = 1;

    /// <summary>
    /// A token that looks like a flag but was taken as an argument (an optional positional swallows
    /// <c>--bogus</c>): docker calls that an unknown flag. "-" alone is stdin, and after "--" anything goes.
    /// </summary>
    public static string? MisplacedFlag(ParseResult parse)
    {
        foreach (var token in parse.Tokens)
        {
            if (token.Type == TokenType.DoubleDash) return null;
            if (token.Type == TokenType.Argument && token.Value.Length > 1 && token.Value[0] == '-') return token.Value;
        }
        return null;
    }

    public static int Report(ParseResult parse)
    {
        string path = string.Join(' ', parse.CommandResult.Command.Parents.OfType<Command>().Reverse().Select(c => c.Name)
            .Append(parse.CommandResult.Command.Name).Where(n => n.Length > 0)).Replace("berth berth", "berth");
        string name = path.StartsWith("berth", StringComparison.Ordinal) ? path : "berth " + path;
        var unknownFlag = parse.UnmatchedTokens.FirstOrDefault(t => t.StartsWith('-') && t != "-") ?? MisplacedFlag(parse);
        if (unknownFlag is not null)
        {
            Console.Error.WriteLine($"unknown flag: {unknownFlag}");
            Console.Error.WriteLine($"See '{name} --help'.");
            return FlagError;
        }
        Console.Error.WriteLine($"{name}: {parse.Errors[0].Message}");
        Console.Error.WriteLine($"See '{name} --help'.");
        return parse.Errors.Any(e => e.Message.Contains("option", StringComparison.OrdinalIgnoreCase)) ? FlagError : ArgumentError;
    }
}
