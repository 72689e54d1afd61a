using System.Text.RegularExpressions;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// What an error meant for a user must not contain. NativeAOT with UseSystemResourceKeys prints
/// "UnauthorizedAccess_IODenied_Path" or "DeserializeUnableToConvertValue, System.UInt64" instead of the framework's
/// message, and an unhandled exception prints a .NET stack trace.
/// </summary>
public static partial class ErrorText
{
    /// <summary>
    /// A resource key: identifiers joined by underscores with a lower-case letter somewhere (Arg_ParamName_Name,
    /// IO_PathNotFound_Path; not RLIMIT_NOFILE or CAP_SYS_ADMIN), or one CamelCase word of four humps or more
    /// (DeserializeUnableToConvertValue).
    /// </summary>
    [GeneratedRegex(@"\b(?=[A-Za-z0-9_]*[a-z])[A-Z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[A-Z][a-z]+(?:[A-Z][a-z0-9]+){3,}\b")]
    public static partial Regex ResourceKey();

    /// <summary>A .NET type where the user wanted to read what is expected ("System.Nullable`1[System.UInt64]").</summary>
    [GeneratedRegex(@"\bSystem\.[A-Z]\w+|`\d\[")]
    public static partial Regex DotnetTypeName();

    /// <summary>A frame of a .NET stack trace ("   at Berth.Runtime.Container.Start(...)"), or the runtime's header of one.</summary>
    [GeneratedRegex(@"^\s+at \S+\(|Unhandled exception\.", RegexOptions.Multiline)]
    public static partial Regex StackTrace();
}
