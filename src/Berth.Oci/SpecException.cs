namespace Berth.Oci;

/// <summary>
/// A config.json that cannot be used: missing, unreadable, malformed, of the wrong shape, or failing validation.
/// The message names the file and what is wrong; <see cref="Errors"/> lists every validation failure.
/// </summary>
public sealed class SpecException : Exception
{
    public SpecException(string message) : base(message) => Errors = [];

    public SpecException(string message, Exception inner) : base(message, inner) => Errors = [];

    public SpecException(string message, IReadOnlyList<ValidationError> errors) : base(message) => Errors = errors;

    /// <summary>The validation failures behind this exception (empty for load and parse errors).</summary>
    public IReadOnlyList<ValidationError> Errors { get; }
}

/// <summary>One broken rule: <paramref name="Path"/> is a JSON path into config.json, like <c>$.linux.namespaces[2].type</c>.</summary>
public sealed record ValidationError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}
