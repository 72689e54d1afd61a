using System.CommandLine;
using System.Globalization;

namespace Berth.Runtime.Cli;

/// <summary>
/// Numeric options whose parse errors say what was expected: System.CommandLine's own message names the .NET type
/// ("as expected type 'System.Nullable`1[System.UInt64]'").
/// </summary>
public static class NumberOption
{
    /// <param name="expected">What a valid value is, for the error ("a non-negative integer").</param>
    public static Option<T?> Optional<T>(string name, string description, string expected, params string[] aliases) where T : struct, IParsable<T>
    {
        var option = new Option<T?>(name, aliases) { Description = description };
        option.CustomParser = result => Parse<T>(result, name, expected);
        return option;
    }

    public static Option<int> Int(string name, string description, string expected)
    {
        var option = new Option<int>(name) { Description = description };
        option.CustomParser = result => Parse<int>(result, name, expected) ?? 0;
        return option;
    }

    static T? Parse<T>(System.CommandLine.Parsing.ArgumentResult result, string name, string expected) where T : struct, IParsable<T>
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (T.TryParse(text, CultureInfo.InvariantCulture, out T value)) return value;
        result.AddError($"{name} \"{text}\": expected {expected}");
        return null;
    }
}
