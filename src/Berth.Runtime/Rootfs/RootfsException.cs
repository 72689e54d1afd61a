using Berth.Linux;

namespace Berth.Runtime.Rootfs;

/// <summary>
/// A failed step of the root filesystem setup. The message names the step and what it acted on, for a spec mount
/// "&lt;call&gt; &lt;source&gt; on &lt;destination&gt; (type &lt;type&gt;): &lt;errno text&gt;".
/// </summary>
public sealed class RootfsException : Exception
{
    public RootfsException(string message) : base(message) { }

    public RootfsException(string call, string subject, int errno)
        : base($"{call} {subject}: {LinuxException.Describe(errno)}", new LinuxException(call, errno, subject))
    {
        Errno = errno;
    }

    /// <summary>Wraps a lower-level failure (path resolution, mkdir) with the step it broke.</summary>
    public RootfsException(string step, LinuxException inner) : base($"{step}: {inner.Message}", inner)
    {
        Errno = inner.Errno;
    }

    /// <summary>The errno of the failing call, 0 when the failure is a check of ours.</summary>
    public int Errno { get; }
}
