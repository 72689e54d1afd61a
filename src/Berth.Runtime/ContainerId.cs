namespace Berth.Runtime;

/// <summary>
/// Container ids become directory names under the state root, so they must not be able to name anything else.
/// runc's rule: one or more of ASCII letters, digits, '_', '+', ',', '-', '.' (its pattern <c>^[\w+-\.]+$</c> holds
/// the range '+'..'.', which lets ',' in), and not "." or "..".
/// </summary>
public static class ContainerId
{
    public static bool IsValid(string? id) => Problem(id) is null;

    /// <exception cref="ArgumentException">The id is empty or could name a path; the message names the id.</exception>
    public static void Validate(string? id)
    {
        if (Problem(id) is { } problem)
            throw new ArgumentException(problem); // no parameter name: the message is for the user
    }

    private static string? Problem(string? id)
    {
        if (string.IsNullOrEmpty(id))
            return "container id must not be empty";
        if (id is "." or "..")
            return $"invalid container id \"{id}\": \".\" and \"..\" are not allowed";
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '+' or ',' or '-' or '.'))
                return $"invalid container id \"{id}\": character '{c}' is not allowed (use letters, digits, '_', '+', ',', '-', '.')";
        }
        return null;
    }
}
