namespace Berth.Cgroups;

/// <summary>A cgroup operation that failed or was refused; the message names the file, path or field and the value.</summary>
public sealed class CgroupException : Exception
{
    public CgroupException(string message) : base(message) { }

    public CgroupException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The errno of the failed call, when one failed (0 for a refusal).</summary>
    public int Errno { get; init; }
}
